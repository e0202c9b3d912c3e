//! Where tokens are kept beyond one client's memory, one module per store,
//! below the client that consults them: the token cache on disk shared by the
//! processes of one host (`cache.rs`), and people's sign-ins (`login.rs`), in
//! the OS keyring (`keyring.rs`) or a private file. `files.rs` is what the
//! file-based ones share: private files written whole, and a lock per file
//! that dies with its holder. `redis.rs` is the token store shared by hosts.

pub(crate) mod cache;
mod files;
mod keyring;
pub(crate) mod login;
pub(crate) mod redis;
