//go:build race

package sigmaauth_test

// The race detector's shadow memory makes RSS meaningless for leak checks.
const raceEnabled = true
