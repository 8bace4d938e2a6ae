// Package crash holds the helpdesk's crash test (crash_test.go): the real
// binary under mixed load from internal/loadgen, killed with SIGKILL
// mid-load, restarted on the same data folder with a damaged search
// index, and checked against its own database — every acknowledged chat
// message and every email answered 250 stored exactly once, and the search
// indexes working again. The package has no code of its own.
package crash
