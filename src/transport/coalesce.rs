//! One write per request: head and body together.

use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport};

/// Wraps every connection (above TLS) in [`Coalescing`].
#[derive(Debug)]
pub(super) struct Coalesce;

impl Connector<Box<dyn Transport>> for Coalesce {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<Box<dyn Transport>>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let config = details.config;
        Ok(chained.map(|inner| {
            let buffers = LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
            Box::new(Coalescing { inner, out: Pending { buffers, held: 0 } }) as Box<dyn Transport>
        }))
    }
}

/// Sends a request's head and body in one write. ureq transmits them
/// separately, and a server that gets the head alone has to wake up again for
/// the body: a round of scheduling per request on a busy host. Output is held
/// until the response is awaited (or the buffer is half full); input is passed
/// through.
#[derive(Debug)]
struct Coalescing {
    inner: Box<dyn Transport>,
    out: Pending,
}

/// Our buffers: output written after what is held, input moved over from the
/// inner transport's buffers.
#[derive(Debug)]
struct Pending {
    buffers: LazyBuffers,
    held: usize,
}

impl Coalescing {
    fn flush(&mut self, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let mut sent = 0;
        while sent < self.out.held {
            let target = self.inner.buffers().output();
            let n = target.len().min(self.out.held - sent);
            target[..n].copy_from_slice(&self.out.buffers.output()[sent..sent + n]);
            self.inner.transmit_output(n, timeout)?;
            sent += n;
        }
        self.out.held = 0;
        Ok(())
    }
}

impl Transport for Coalescing {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.out
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.out.held += amount;
        if self.out.held * 2 > self.out.buffers.output().len() {
            self.flush(timeout)?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.flush(timeout)?;
        if self.inner.buffers().input().is_empty() && !self.inner.await_input(timeout)? {
            return Ok(false);
        }
        let source = self.inner.buffers().input();
        let target = self.out.buffers.input_append_buf();
        let n = source.len().min(target.len());
        target[..n].copy_from_slice(&source[..n]);
        self.out.buffers.input_appended(n);
        self.inner.buffers().input_consume(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

impl Buffers for Pending {
    fn output(&mut self) -> &mut [u8] {
        let held = self.held;
        &mut self.buffers.output()[held..]
    }

    fn input(&self) -> &[u8] {
        self.buffers.input()
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.buffers.input_append_buf()
    }

    fn input_appended(&mut self, amount: usize) {
        self.buffers.input_appended(amount)
    }

    fn input_consume(&mut self, amount: usize) {
        self.buffers.input_consume(amount)
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        let held = self.held;
        let (tmp, output) = self.buffers.tmp_and_output();
        (tmp, &mut output[held..])
    }

    fn can_use_input(&self) -> bool {
        self.buffers.can_use_input()
    }
}
