package sigmaauth

// LiveEventSinks is how many event handles are registered (Configs with a
// Logger or OnEvent in use), for tests that check Close releases them.
func LiveEventSinks() int64 { return liveEventSinks.Load() }

// ForgetStatelessConfigs empties the table of GetToken's shared native
// configs, which the whole test binary fills (it keeps 16).
func ForgetStatelessConfigs() { forgetStatelessConfigs() }

// KnownStatusCount is how many statuses the C library names.
func KnownStatusCount() int { return len(statusNames) }
