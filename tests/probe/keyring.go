package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// keyring shows what a container can reach of the kernel's key retention service: its
// session keyring and what is in it, and, for each key id given (a key the test added on
// the host), whether it can describe and read that key.
//
//	probe keyring [--add DESC:PAYLOAD] [ID…]
//
// Report lines:
//
//	keyring session: ID TYPE;UID;GID;PERM;NAME     (or the error)
//	keyring linked: ID TYPE;UID;GID;PERM;NAME      (one per key in the session keyring)
//	keyring added: ID                              (with --add: a user key added to it)
//	keyring describe ID: ok DESCRIPTION | ERROR
//	keyring read ID: ok PAYLOAD | ERROR
func init() {
	probes["keyring"] = func(args []string) int {
		if len(args) >= 2 && args[0] == "--add" {
			desc, payload, ok := strings.Cut(args[1], ":")
			if !ok {
				fmt.Fprintln(os.Stderr, "usage: probe keyring [--add DESC:PAYLOAD] [ID…]")
				return 2
			}
			id, err := unix.AddKey("user", desc, []byte(payload), unix.KEY_SPEC_SESSION_KEYRING)
			if err != nil {
				fmt.Printf("keyring added: %s\n", errName(err))
			} else {
				fmt.Printf("keyring added: %d\n", id)
			}
			args = args[2:]
		}
		ses, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
		if err != nil {
			fmt.Printf("keyring session: %s\n", errName(err))
		} else {
			fmt.Printf("keyring session: %d %s\n", ses, describe(ses))
			for _, id := range linked(ses) {
				fmt.Printf("keyring linked: %d %s\n", id, describe(id))
			}
		}
		for _, a := range args {
			id, err := strconv.Atoi(a)
			if err != nil {
				fmt.Fprintf(os.Stderr, "key id %q: %v\n", a, err)
				return 2
			}
			fmt.Printf("keyring describe %d: %s\n", id, okOr(unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)))
			fmt.Printf("keyring read %d: %s\n", id, okOr(readKey(id)))
		}
		return 0
	}
}

func describe(id int) string {
	d, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
	if err != nil {
		return errName(err)
	}
	return d
}

// linked lists the ids of the keys in a keyring (KEYCTL_READ on a keyring).
func linked(ring int) []int {
	b, err := readKey(ring)
	if err != nil {
		return nil
	}
	var ids []int
	for i := 0; i+4 <= len(b); i += 4 {
		ids = append(ids, int(int32(binary.NativeEndian.Uint32([]byte(b[i:i+4])))))
	}
	return ids
}

// readKey reads a key's payload.
func readKey(id int) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
	if err != nil {
		return "", err
	}
	return string(buf[:min(n, len(buf))]), nil
}

func okOr(s string, err error) string {
	if err != nil {
		return errName(err)
	}
	return "ok " + s
}
