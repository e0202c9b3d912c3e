//! `sigma-mock`: a real HTTP(S) server on loopback that behaves like Sigma's token
//! endpoint, with fault injection and counters for tests and benchmarks.

mod cli;
mod embed;
mod exchange;
mod faults;
mod jwt;
mod reply;
mod routes;
mod signin;
mod state;
mod tls;
mod token;
mod users;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

use crate::state::State;

fn main() {
    let options = match cli::parse(std::env::args().skip(1)) {
        Ok(cli::Parsed::Run(options)) => *options,
        Ok(cli::Parsed::Help) => {
            println!("{}", cli::USAGE);
            return;
        }
        Err(message) => {
            eprintln!("sigma-mock: {message}\n\n{}", cli::USAGE);
            std::process::exit(2);
        }
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("cannot start the async runtime");
    let result = runtime.block_on(serve(options));
    // Do not wait for the blocked stdin reader or connections still open.
    runtime.shutdown_background();
    if let Err(message) = result {
        eprintln!("sigma-mock: {message}");
        std::process::exit(1);
    }
}

async fn serve(options: cli::Options) -> Result<(), String> {
    let acceptor = match &options.cert_out {
        Some(path) if options.tls => Some(tls::acceptor(path)?),
        _ => None,
    };
    let listener = TcpListener::bind(SocketAddr::new(options.host, options.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", options.host, options.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;

    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let mut state = State::new(options.clients, options.expires_in, options.refresh_expires_in);
    state.base_url = format!("{scheme}://{addr}");
    state.token_delay = std::time::Duration::from_millis(options.token_delay_ms);
    state.throttle = options.throttle;
    if let Some(email) = options.auto_approve {
        state.signin.auto_approve(email);
    }
    state.non_admin_clients = options.non_admin_clients;
    state.embed_client_id = options.embed_client_id;
    state.embed_secret = options.embed_secret;
    state.set_directory(options.directory);
    let state = Arc::new(state);
    // Before the URL line: a harness may signal us as soon as it has read it, and
    // a signal that came before the handlers would kill us instead of a clean exit.
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;

    let mut stdout = std::io::stdout().lock();
    // The harness reads this line to learn where we are and that we are ready:
    // print and flush it once everything above is in place.
    writeln!(stdout, "{scheme}://{addr}").and_then(|_| stdout.flush()).map_err(|e| e.to_string())?;
    drop(stdout);

    let (stdin_closed_tx, mut stdin_closed) = tokio::sync::oneshot::channel::<()>();
    if options.exit_with_stdin {
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut sink = [0u8; 256];
            let mut stdin = tokio::io::stdin();
            while matches!(stdin.read(&mut sink).await, Ok(n) if n > 0) {}
            let _ = stdin_closed_tx.send(());
        });
    } else {
        std::mem::forget(stdin_closed_tx);
    }

    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // Out of file descriptors and the like: keep serving the others.
                Err(_) => continue,
            },
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
            _ = &mut stdin_closed => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        state.record_connection();
        let state = state.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = state.clone();
                async move { routes::route(&state, req).await }
            });
            let http = http1::Builder::new();
            match acceptor {
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                }
                Some(acceptor) => {
                    if let Ok(tls_stream) = acceptor.accept(stream).await {
                        let _ = http.serve_connection(TokioIo::new(tls_stream), service).await;
                    }
                }
            }
        });
    }
}
