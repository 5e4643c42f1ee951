// Package crypto holds jifen's application keys and the commercial-cryptography
// (商用密码) primitives built on them: SM4-GCM for identity and phone numbers at
// rest, HMAC-SM3 blind indexes so encrypted columns can still be searched for
// equality, and a pepper for password hashing.
//
// All keys are derived from one 32-byte master key. The master key never goes
// into the database: it comes from the JIFEN_MASTER_KEY environment variable or
// from <dataDir>/master.key (see LoadKeyring). Code that only needs to use keys
// should depend on the KeyProvider interface, so that a certified crypto module
// (HSM over the SDF interface) can replace the software Keyring in production.
package crypto

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/emmansun/gmsm/sm3"
)

// MasterKeySize is the length in bytes of the master key and of each derived key.
const MasterKeySize = 32

// MasterKeyFile is the name of the key file inside the data directory.
const MasterKeyFile = "master.key"

// Labels for deriving the working keys. Changing one changes every key derived
// from it, so they are part of the stored-data format.
const (
	labelData   = "jifen/v1/data-key/sm4-gcm"
	labelIndex  = "jifen/v1/index-key/hmac-sm3"
	labelPepper = "jifen/v1/password-pepper/hmac-sm3"
)

// KeyProvider is what the rest of jifen needs from a key store. The software
// Keyring implements it; an HSM-backed provider can implement it later without
// the keys ever leaving the module.
type KeyProvider interface {
	// Encrypt seals plaintext with SM4-GCM, binding associatedData.
	Encrypt(plaintext, associatedData []byte) ([]byte, error)
	// Decrypt opens a value produced by Encrypt with the same associatedData.
	Decrypt(ciphertext, associatedData []byte) ([]byte, error)
	// EncryptString is Encrypt for text columns; the result is base64.
	EncryptString(plaintext, associatedData string) (string, error)
	// DecryptString reverses EncryptString.
	DecryptString(ciphertext, associatedData string) (string, error)
	// BlindIndex returns a keyed, domain-separated HMAC-SM3 of value, in hex.
	BlindIndex(domain, value string) string
}

// Keyring is the software KeyProvider: three working keys derived from one
// master key. It is immutable and safe for concurrent use.
type Keyring struct {
	dataKey  [MasterKeySize]byte // SM4 uses the first 16 bytes
	indexKey [MasterKeySize]byte
	pepper   [MasterKeySize]byte
}

var _ KeyProvider = (*Keyring)(nil)

// NewKeyring derives a Keyring from a 32-byte master key. Each working key is
// HMAC-SM3(master, label), which is HKDF-Expand for a single output block; the
// master key is already uniformly random, so no extract step is needed.
func NewKeyring(master []byte) (*Keyring, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("crypto: master key must be %d bytes, got %d", MasterKeySize, len(master))
	}
	k := &Keyring{}
	copy(k.dataKey[:], derive(master, labelData))
	copy(k.indexKey[:], derive(master, labelIndex))
	copy(k.pepper[:], derive(master, labelPepper))
	return k, nil
}

func derive(master []byte, label string) []byte {
	m := hmac.New(sm3.New, master)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// Pepper returns a copy of the password pepper, for password.NewHasher.
// It is a separate derived key, so handing it to the hasher exposes neither
// the data key nor the index key.
func (k *Keyring) Pepper() []byte {
	p := make([]byte, len(k.pepper))
	copy(p, k.pepper[:])
	return p
}

// LoadKeyring returns the keyring for this installation.
//
// If envValue (the caller passes JIFEN_MASTER_KEY) is non-empty it must be 64
// hex digits and is used as is. Otherwise the master key is read from
// <dataDir>/master.key; if that file does not exist a new random key is
// written there with mode 0600 and created is true, so the caller can tell the
// operator to back the file up. A key file readable by group or others is
// refused rather than silently used.
func LoadKeyring(dataDir, envValue string) (k *Keyring, created bool, err error) {
	if strings.TrimSpace(envValue) != "" {
		master, err := parseMasterKey(envValue)
		if err != nil {
			return nil, false, fmt.Errorf("crypto: JIFEN_MASTER_KEY: %w", err)
		}
		k, err := NewKeyring(master)
		return k, false, err
	}
	if dataDir == "" {
		return nil, false, errors.New("crypto: no master key: set JIFEN_MASTER_KEY or a data directory")
	}
	path := filepath.Join(dataDir, MasterKeyFile)
	master, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		master, created, err = createKeyFile(dataDir, path)
	}
	if err != nil {
		return nil, false, err
	}
	k, err = NewKeyring(master)
	return k, created, err
}

func parseMasterKey(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("master key is not hex: %w", err)
	}
	if len(b) != MasterKeySize {
		return nil, fmt.Errorf("master key must be %d hex digits, got %d", 2*MasterKeySize, 2*len(b))
	}
	return b, nil
}

func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("crypto: %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("crypto: %s has mode %04o; it must be readable by its owner only (chmod 600 %s)",
			path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	master, err := parseMasterKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("crypto: %s: %w", path, err)
	}
	return master, nil
}

// createKeyFile writes a new key to a temporary file and hard-links it into
// place. Unlike rename, a link never replaces an existing file: if another
// process created the key first, we use its key instead of overwriting it
// (which would make data already encrypted under it unreadable).
func createKeyFile(dataDir, path string) (master []byte, created bool, err error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("crypto: create data directory: %w", err)
	}
	master = make([]byte, MasterKeySize)
	if _, err := rand.Read(master); err != nil {
		return nil, false, fmt.Errorf("crypto: generate master key: %w", err)
	}
	tmp, err := os.CreateTemp(dataDir, ".master.key-*") // created with mode 0600
	if err != nil {
		return nil, false, fmt.Errorf("crypto: write master key: %w", err)
	}
	tmpName := tmp.Name()
	defer func() { _ = os.Remove(tmpName) }() // gone after the link; a leftover only on failure

	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("crypto: write master key: %w", err)
	}
	if _, err := tmp.WriteString(hex.EncodeToString(master) + "\n"); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("crypto: write master key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("crypto: write master key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, false, fmt.Errorf("crypto: write master key: %w", err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			master, err = readKeyFile(path)
			return master, false, err
		}
		return nil, false, fmt.Errorf("crypto: write master key: %w", err)
	}
	if err := syncDir(dataDir); err != nil {
		return nil, false, fmt.Errorf("crypto: write master key: %w", err)
	}
	return master, true, nil
}

// syncDir makes the new directory entry durable, so a crash right after
// LoadKeyring returns cannot lose a key that data was then encrypted under.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
