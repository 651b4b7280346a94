//! A realm export as --import-realm and POST /admin/realms read it: the representation, then the
//! realm, its clients and its users built from it.
#![no_main]
use latchkey_domain::keycloak::RealmRepresentation;
use latchkey_domain::{Client, Realm, User};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(rep) = serde_json::from_slice::<RealmRepresentation>(data) else {
        return;
    };
    let Ok(realm) = Realm::from_representation("r".into(), &rep) else {
        return;
    };
    let back = Realm::from_representation("r".into(), &realm.to_representation())
        .expect("a realm's own representation is valid");
    assert_eq!(back.name, realm.name);
    for c in rep.clients.iter().flatten() {
        let _ = Client::from_representation("c".into(), realm.id.clone(), c, vec![]);
    }
    for u in rep.users.iter().flatten() {
        if let Ok(user) = User::from_representation("u".into(), realm.id.clone(), u, 0) {
            assert_eq!(
                user.username,
                latchkey_domain::user::canonical_username(&user.username),
                "stored usernames are canonical"
            );
        }
    }
});
