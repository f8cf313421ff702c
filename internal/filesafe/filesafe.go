//go:build unix

// Package filesafe decides whether a file may be trusted to say what a
// privileged program does: a configuration whose actions run as root, or a
// program that is run as root. It follows sshd's StrictModes: the file and
// every directory above it (after resolving symbolic links) must be owned by
// root or by the user the program runs as, and none may be writable by group
// or others (a sticky world-writable directory such as /tmp is refused too).
// A symbolic link on the way is followed only when the directory holding it
// passes the same test: a link in /tmp is refused wherever it points.
// The file must be a regular file.
//
// ReadFile opens the file without following a final symbolic link and
// without blocking (a FIFO cannot hang it), checks the opened descriptor
// (fstat, so the file checked is the file read) and reads through a size
// limit.
package filesafe

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrUnsafe is wrapped by every error for a file or directory that others
// could have written.
var ErrUnsafe = errors.New("unsafe permissions")

// ErrNotRegular is wrapped by errors for a file that is not a regular file
// (a FIFO, a device, a directory, a socket).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by errors for a file above ReadFile's limit.
var ErrTooLarge = errors.New("file too large")

// Check reports whether path is a regular file that only root and uid can
// have written: the file and each directory of its resolved path are owned
// by root or uid and are not writable by group or others.
func Check(path string, uid int) error {
	real, err := resolve(path, uid)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return err
	}
	if err := checkFile(path, real, fi, uid); err != nil {
		return err
	}
	return checkDirs(path, real, uid)
}

// CheckDir reports whether dir is a directory that only root and uid can
// have written, nor any directory above it: a place to keep state that a
// privileged program trusts.
func CheckDir(dir string, uid int) error {
	real, err := resolve(dir, uid)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", dir)
	}
	if err := checkOwnerMode(dir, "directory "+real, fi, uid); err != nil {
		return err
	}
	return checkDirs(dir, real, uid)
}

// Executable is Check for a program: it must also have an execute bit.
func Executable(path string, uid int) error {
	if err := Check(path, uid); err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s: not executable (mode %04o)", path, modeBits(fi.Mode()))
	}
	return nil
}

// ReadFile reads path, at most limit bytes, after the checks of Check. The
// file's own checks are made on the opened descriptor.
func ReadFile(path string, uid int, limit int64) ([]byte, error) {
	real, err := resolve(path, uid)
	if err != nil {
		return nil, err
	}
	if err := checkDirs(path, real, uid); err != nil {
		return nil, err
	}
	// O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW:
	// the resolved path has no link left, so one now is a swap.
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkFile(path, real, fi, uid); err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: %w (%d bytes, at most %d)", path, ErrTooLarge, fi.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w (more than %d bytes)", path, ErrTooLarge, limit)
	}
	return data, nil
}

// resolve returns the absolute path of path with every symbolic link
// resolved. It walks the path as given, one component at a time, and
// refuses a symbolic link in a directory that is not safe (checkDirs on
// it and the directory itself): whoever could write there chose where the
// link leads, so checking only the link's target would check the place the
// attacker picked.
func resolve(path string, uid int) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	links := 0
	return walk(path, "/", abs, uid, &links)
}

// maxLinks bounds the symbolic links one resolution follows, as the
// kernel's ELOOP does.
const maxLinks = 40

// walk resolves rest (absolute, or relative to cur) below cur, a resolved
// directory, following symbolic links whose directory is safe. name is the
// path as given, for messages.
func walk(name, cur, rest string, uid int, links *int) (string, error) {
	if filepath.IsAbs(rest) {
		cur = "/"
	}
	for _, c := range strings.Split(rest, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if *links++; *links > maxLinks {
			return "", fmt.Errorf("%s: %w", name, syscall.ELOOP)
		}
		if err := checkLinkDir(name, next, cur, uid); err != nil {
			return "", err
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		if cur, err = walk(name, cur, target, uid, links); err != nil {
			return "", err
		}
	}
	return cur, nil
}

// checkLinkDir checks dir, the resolved directory holding the symbolic
// link link, and every directory above it.
func checkLinkDir(name, link, dir string, uid int) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := checkOwnerMode(name, "directory "+dir+" (holding the symbolic link "+link+")", fi, uid); err != nil {
		return err
	}
	return checkDirs(name, dir, uid)
}

// checkFile checks the file's type, owner and mode. name is the path as
// given, real the resolved one (named too when they differ).
func checkFile(name, real string, fi os.FileInfo, uid int) error {
	what := name
	if real != name {
		what = fmt.Sprintf("%s (%s)", name, real)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %w (%s)", what, ErrNotRegular, TypeName(fi.Mode()))
	}
	return checkOwnerMode(what, "file", fi, uid)
}

// checkDirs checks every directory above real, up to the root.
func checkDirs(name, real string, uid int) error {
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		fi, err := os.Lstat(d)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := checkOwnerMode(name, "directory "+d, fi, uid); err != nil {
			return err
		}
		if d == "/" || d == "." {
			return nil
		}
	}
}

// checkOwnerMode refuses an owner other than root or uid, and write
// permission for group or others.
func checkOwnerMode(name, what string, fi os.FileInfo, uid int) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: %s: no owner information", name, what)
	}
	owner := int(st.Uid)
	if owner != 0 && owner != uid {
		return fmt.Errorf("%s: %s is owned by uid %d, not root or uid %d: %w", name, what, owner, uid, ErrUnsafe)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		who := "group and others"
		switch {
		case perm&0o020 == 0:
			who = "others"
		case perm&0o002 == 0:
			who = "its group"
		}
		return fmt.Errorf("%s: %s is writable by %s (mode %04o): %w", name, what, who, modeBits(fi.Mode()), ErrUnsafe)
	}
	return nil
}

// modeBits returns the permission bits with sticky, setuid and setgid, as
// ls and chmod print them.
func modeBits(m os.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&os.ModeSticky != 0 {
		b |= 0o1000
	}
	if m&os.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&os.ModeSetuid != 0 {
		b |= 0o4000
	}
	return b
}

// TypeName names the type of a file that is not a regular one, as every
// ocfkit message says it ("a directory", "a FIFO", "a character device").
func TypeName(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "mode " + m.String()
}
