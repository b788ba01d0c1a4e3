//go:build unix

package coordinator

import "syscall"

// readable reports whether the socket fd has something to read, or an
// error or end to report (the next read returns at once), without
// reading it: false makes syscall.RawConn.Read wait for readability.
func readable(fd uintptr, b *[1]byte) bool {
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN
}
