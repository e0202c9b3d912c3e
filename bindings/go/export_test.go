package sigmaauth

import "log/slog"

// LiveEventSinks is how many event handles are registered (Configs with a
// Logger or OnEvent in use), for tests that check Close releases them.
func LiveEventSinks() int64 { return liveEventSinks.Load() }

// ForgetStatelessConfigs empties the table of GetToken's shared native
// configs, which the whole test binary fills (it keeps 16).
func ForgetStatelessConfigs() { forgetStatelessConfigs() }

// KnownStatusCount is how many statuses the C library names.
func KnownStatusCount() int { return len(statusNames) }

// KnownEventKindCount is how many event kinds the C library names.
func KnownEventKindCount() int { return len(eventKindNames) - 1 }

// EventKindLevel is the level a kind is logged at.
func EventKindLevel(kind EventKind) slog.Level { return kind.level() }
