//! Runs a real `redis-server` (Debian's package) on loopback for the tests of
//! the token store shared by hosts: on a port of its own, no persistence,
//! optionally with a password or TLS (a throw-away CA, like the mock's), and
//! lets a test kill, restart, stop (SIGSTOP) and continue it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};

/// What to start.
#[derive(Default, Clone)]
pub struct RedisOptions {
    /// `requirepass`.
    pub password: Option<String>,
    /// Serve TLS only (`rediss://`), with a certificate for 127.0.0.1 and
    /// localhost signed by a fresh CA ([`RedisServer::ca_file`]).
    pub tls: bool,
    /// A one-node Redis Cluster owning every slot.
    pub cluster: bool,
    /// More `redis-server` arguments, e.g. `--rename-command EVAL ""`.
    pub args: Vec<String>,
}

/// A running redis-server; killed when dropped.
pub struct RedisServer {
    pub port: u16,
    /// With TLS, a plain port beside it too, for a test's own look inside.
    pub plain_port: u16,
    options: RedisOptions,
    child: Option<Child>,
    dir: PathBuf,
}

impl RedisServer {
    pub fn start(options: RedisOptions) -> RedisServer {
        let free = || TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let port = free();
        let plain_port = if options.tls { free() } else { port };
        let dir = std::env::temp_dir().join(format!("sigma-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("redis dir");
        if options.tls {
            write_certificates(&dir);
        }
        let mut server = RedisServer { port, plain_port, options, child: None, dir };
        server.restart();
        server
    }

    /// The URL a client uses (with the password, when there is one).
    pub fn url(&self) -> String {
        let scheme = if self.options.tls { "rediss" } else { "redis" };
        match &self.options.password {
            Some(password) => format!("{scheme}://:{password}@127.0.0.1:{}/0", self.port),
            None => format!("{scheme}://127.0.0.1:{}/0", self.port),
        }
    }

    /// A plain URL (the plain port, with the password), for a test's own commands.
    pub fn plain_url(&self) -> String {
        match &self.options.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}/0", self.plain_port),
            None => format!("redis://127.0.0.1:{}/0", self.plain_port),
        }
    }

    /// The CA that signed a TLS server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Starts it (again) on the same port, empty, and waits until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let mut command = Command::new("redis-server");
        command.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"]);
        command.args(["--loglevel", "warning", "--dir"]).arg(&self.dir);
        if self.options.tls {
            let ports = [self.plain_port.to_string(), self.port.to_string()];
            command.args(["--port", &ports[0], "--tls-port", &ports[1], "--tls-auth-clients", "no"]);
            command.arg("--tls-cert-file").arg(self.dir.join("server.pem"));
            command.arg("--tls-key-file").arg(self.dir.join("server.key"));
            command.arg("--tls-ca-cert-file").arg(self.dir.join("ca.pem"));
        } else {
            command.args(["--port", &self.port.to_string()]);
        }
        if let Some(password) = &self.options.password {
            command.args(["--requirepass", password]);
        }
        if self.options.cluster {
            let _ = std::fs::remove_file(self.dir.join("nodes.conf"));
            command.args(["--cluster-enabled", "yes", "--cluster-config-file"]).arg(self.dir.join("nodes.conf"));
        }
        command.args(&self.options.args);
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server (apt-get install redis-server): {e}"));
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(10);
        while !self.listening() {
            assert!(Instant::now() < until, "redis-server did not start on port {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.options.cluster {
            assert_eq!(
                self.command(b"*4\r\n$7\r\nCLUSTER\r\n$13\r\nADDSLOTSRANGE\r\n$1\r\n0\r\n$5\r\n16383\r\n"),
                "+OK"
            );
            while !self.command(b"*2\r\n$7\r\nCLUSTER\r\n$4\r\nINFO\r\n").contains("cluster_state:ok") {
                assert!(Instant::now() < until, "the cluster did not come up");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// One command in Redis's wire form, on plain TCP; the start of the answer.
    fn command(&self, packed: &[u8]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.plain_port)).expect("connect to redis-server");
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        stream.write_all(packed).expect("send");
        let mut answer = vec![0u8; 4096];
        let n = stream.read(&mut answer).unwrap_or(0);
        String::from_utf8_lossy(&answer[..n]).trim_end().to_string()
    }

    fn listening(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.plain_port)) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut answer = [0u8; 64];
        stream.write_all(b"PING\r\n").is_ok() && stream.read(&mut answer).is_ok_and(|n| n > 0)
    }

    /// Kills it (SIGKILL): everything it held is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP: it keeps its socket, accepts connections, answers nothing.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// SIGCONT.
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let status = Command::new("kill").args(["-s", name, &pid]).status().expect("run kill");
        assert!(status.success(), "kill -s {name} {pid}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.resume();
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_certificates(dir: &Path) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "sigma-auth test Redis CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key")).expect("CA certificate");
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("server params");
    leaf_params.distinguished_name.push(DnType::CommonName, "redis");
    let leaf_key = KeyPair::generate().expect("server key");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("server certificate");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write ca.pem");
    std::fs::write(dir.join("server.pem"), leaf.pem()).expect("write server.pem");
    std::fs::write(dir.join("server.key"), leaf_key.serialize_pem()).expect("write server.key");
}
