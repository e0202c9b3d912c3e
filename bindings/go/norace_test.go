//go:build !race

package sigmaauth_test

const raceEnabled = false
