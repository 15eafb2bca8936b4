// Package tenancy owns who is who and what they pay: organisations,
// projects, users with roles, API keys and the price book.
//
// Keys are random secrets shown once; only their SHA-256 is stored. Every
// record lives in the database; each replica keeps an immutable in-memory
// snapshot of all of them, so authenticating a request costs one hash and
// one map read. Every change bumps a version row in the same transaction;
// replicas poll that row (twice a second) and reload when it moves, so a
// revoked key stops working everywhere within a second.
package tenancy
