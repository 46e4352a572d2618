//! xmlsec1's global initialisation must not undo libxml2's hardening: the
//! local-only external entity loader installed by `xoev_schema::init` stays.

#[test]
fn xmlsec_init_keeps_the_local_only_entity_loader() {
    xoev_schema::init();
    // SAFETY: reading libxml2's process-wide loader pointer.
    let before = unsafe { libxml::bindings::xmlGetExternalEntityLoader() };
    let globals = || {
        // SAFETY: libxml2's per-thread parser defaults, read only.
        unsafe {
            use libxml::bindings as x;
            (
                *x::__xmlSubstituteEntitiesDefaultValue(),
                *x::__xmlLoadExtDtdDefaultValue(),
                *x::__xmlDoValidityCheckingDefaultValue(),
            )
        }
    };
    let defaults = globals();
    xoev_dsig::init().expect("xmlsec1 initialises");
    assert_eq!(
        globals(),
        defaults,
        "entity substitution / DTD loading defaults unchanged"
    );
    xoev_dsig::init().expect("idempotent");
    // SAFETY: as above.
    let after = unsafe { libxml::bindings::xmlGetExternalEntityLoader() };
    assert_eq!(before.map(|f| f as usize), after.map(|f| f as usize));
}

#[test]
fn signer_and_verifier_can_be_shared_between_threads() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<xoev_dsig::Signer>();
    send_sync::<xoev_dsig::Verifier>();
}
