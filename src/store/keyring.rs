//! Sign-ins in the OS keyring: the freedesktop Secret Service over D-Bus
//! (GNOME Keyring, KWallet, KeePassXC), one item per profile in the default
//! collection, found by the attributes `application=sigma-auth` and
//! `profile=NAME`. A connection is made for each operation and closed after
//! it (sign-ins are read and written at refresh time only), so no connection
//! outlives a fork. A locked keyring is reported, never unlocked here: that
//! would mean a prompt no headless caller could answer.

#[cfg(feature = "keyring")]
mod secret_service {
    use std::collections::HashMap;

    use secret_service::blocking::{Collection, SecretService};
    use secret_service::EncryptionType;
    use zeroize::Zeroizing;

    const APPLICATION: &str = "sigma-auth";

    fn connect() -> Result<SecretService<'static>, String> {
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
            return Err("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)".into());
        }
        SecretService::connect(EncryptionType::Dh).map_err(|e| format!("no Secret Service answers: {e}"))
    }

    fn collection<'a>(service: &'a SecretService<'a>) -> Result<Collection<'a>, String> {
        let collection = service
            .get_default_collection()
            .or_else(|_| service.get_any_collection())
            .map_err(|e| format!("the keyring has no collection to use: {e}"))?;
        if collection.is_locked().map_err(|e| e.to_string())? {
            return Err("the keyring is locked: unlock it (or set SIGMA_KEYRING=file)".into());
        }
        Ok(collection)
    }

    fn attributes(profile: &str) -> HashMap<&str, &str> {
        HashMap::from([("application", APPLICATION), ("profile", profile)])
    }

    pub(crate) fn check() -> Result<(), String> {
        let service = connect()?;
        collection(&service).map(drop)
    }

    pub(crate) fn load(profile: &str) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
        let service = connect()?;
        let collection = collection(&service)?;
        let items = collection.search_items(attributes(profile)).map_err(|e| e.to_string())?;
        match items.first() {
            Some(item) => item.get_secret().map(|s| Some(Zeroizing::new(s))).map_err(|e| e.to_string()),
            None => Ok(None),
        }
    }

    pub(crate) fn save(profile: &str, secret: &[u8]) -> Result<(), String> {
        let service = connect()?;
        let collection = collection(&service)?;
        collection
            .create_item(
                &format!("sigma-auth sign-in ({profile})"),
                attributes(profile),
                secret,
                true,
                "application/json",
            )
            .map(drop)
            .map_err(|e| e.to_string())
    }

    pub(crate) fn delete(profile: &str) -> Result<bool, String> {
        let service = connect()?;
        let collection = collection(&service)?;
        let items = collection.search_items(attributes(profile)).map_err(|e| e.to_string())?;
        for item in &items {
            item.delete().map_err(|e| e.to_string())?;
        }
        Ok(!items.is_empty())
    }

    pub(crate) fn profiles() -> Result<Vec<String>, String> {
        let service = connect()?;
        let collection = collection(&service)?;
        let items =
            collection.search_items(HashMap::from([("application", APPLICATION)])).map_err(|e| e.to_string())?;
        Ok(items.iter().filter_map(|i| i.get_attributes().ok()?.remove("profile")).collect())
    }
}

#[cfg(feature = "keyring")]
pub(crate) use secret_service::{check, delete, load, profiles, save};

#[cfg(not(feature = "keyring"))]
mod absent {
    use zeroize::Zeroizing;

    const ABSENT: &str = "this build of sigma-auth has no Secret Service support (feature keyring)";

    pub(crate) fn check() -> Result<(), String> {
        Err(ABSENT.into())
    }
    pub(crate) fn load(_: &str) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
        Err(ABSENT.into())
    }
    pub(crate) fn save(_: &str, _: &[u8]) -> Result<(), String> {
        Err(ABSENT.into())
    }
    pub(crate) fn delete(_: &str) -> Result<bool, String> {
        Err(ABSENT.into())
    }
    pub(crate) fn profiles() -> Result<Vec<String>, String> {
        Err(ABSENT.into())
    }
}

#[cfg(not(feature = "keyring"))]
pub(crate) use absent::{check, delete, load, profiles, save};
