package sigmaauth

// How this package finds the C library in the repository: the static archive
// cargo builds (default; build it with `cargo build --release -p sigma-auth`),
// the shared library (-tags sigma_dynamic; put target/release on
// LD_LIBRARY_PATH), or an installed one through pkg-config (-tags
// sigma_system). `make dist` gives the released module its own version of this
// file, which links the prebuilt archive shipped for the platform. The system
// libraries are those in native-static-libs.txt (checked by make test).

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo !sigma_dynamic,!sigma_system LDFLAGS: ${SRCDIR}/../../target/release/libsigma_auth.a
#cgo sigma_dynamic,!sigma_system LDFLAGS: -L${SRCDIR}/../../target/release -lsigma_auth
#cgo sigma_system pkg-config: sigma_auth
#cgo !sigma_system,linux LDFLAGS: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
*/
import "C"
