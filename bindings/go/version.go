package sigmaauth

/*
#include "sigma_auth.h"
*/
import "C"

// Version is this module's version, the same as the library's and every
// other artifact's (a test checks them all against Cargo.toml).
const Version = "0.1.0"

// LibraryVersion is the version of the linked sigma-auth library.
func LibraryVersion() string {
	return C.GoString(C.sigma_version())
}
