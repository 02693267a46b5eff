//go:build race

package app

func init() { raceEnabled = true } // the fleet test builds its replicas with -race too
