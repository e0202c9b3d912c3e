//! Where tokens are kept beyond one client's memory. Each store is a module of
//! its own here, below the client that consults it: today the token cache on
//! disk shared by the processes of one host (`cache.rs`). A person's stored
//! sign-in (the OS keyring, or a private file) and a store shared by hosts
//! belong here too, one module each.

pub(crate) mod cache;
