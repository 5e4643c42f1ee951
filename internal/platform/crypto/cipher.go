package crypto

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
)

// Ciphertext layout, version 1:
//
//	version (1 byte, 0x01) | nonce (12 bytes) | SM4-GCM ciphertext | tag (16 bytes)
//
// The version byte is also authenticated (it is prepended to the associated
// data), so it cannot be changed to make a value parse under another format.
const version1 byte = 0x01

const (
	nonceSize = 12
	tagSize   = 16
	sm4KeyLen = 16

	// Overhead is how many bytes Encrypt adds to the plaintext.
	Overhead = 1 + nonceSize + tagSize
)

// ErrDecrypt is returned when a ciphertext is malformed, was tampered with,
// was sealed under another key, or is opened with different associated data.
// The causes are deliberately not distinguished.
var ErrDecrypt = errors.New("crypto: decryption failed")

func (k *Keyring) aead() (cipher.AEAD, error) {
	block, err := sm4.NewCipher(k.dataKey[:sm4KeyLen])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Encrypt seals plaintext with SM4-GCM under the data key and a fresh random
// 12-byte nonce. associatedData is authenticated but not stored; pass
// something that ties the value to its place, such as "person.id_number:" plus
// the row id, so a ciphertext copied to another row or column fails to
// decrypt. Random nonces are safe here for far more than 2^32 values per key.
func (k *Keyring) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	aead, err := k.aead()
	if err != nil {
		return nil, fmt.Errorf("crypto: %w", err)
	}
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+tagSize)
	out[0] = version1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("crypto: nonce: %w", err)
	}
	return aead.Seal(out, out[1:1+nonceSize], plaintext, versionedAD(version1, associatedData)), nil
}

// Decrypt opens a value produced by Encrypt. Any failure is ErrDecrypt.
func (k *Keyring) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	if len(ciphertext) < Overhead || ciphertext[0] != version1 {
		return nil, ErrDecrypt
	}
	aead, err := k.aead()
	if err != nil {
		return nil, fmt.Errorf("crypto: %w", err)
	}
	nonce := ciphertext[1 : 1+nonceSize]
	plain, err := aead.Open(nil, nonce, ciphertext[1+nonceSize:], versionedAD(version1, associatedData))
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}

func versionedAD(v byte, ad []byte) []byte {
	out := make([]byte, 0, 1+len(ad))
	out = append(out, v)
	return append(out, ad...)
}

// EncryptString is Encrypt for text columns. The result is standard base64
// (with padding) of the Encrypt output, so it fits a TEXT column and survives
// CSV and JSON unchanged. An empty plaintext is encrypted like any other, so
// "empty" and "absent" stay the caller's business.
func (k *Keyring) EncryptString(plaintext, associatedData string) (string, error) {
	ct, err := k.Encrypt([]byte(plaintext), []byte(associatedData))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// DecryptString reverses EncryptString. Any failure, including bad base64,
// is ErrDecrypt.
func (k *Keyring) DecryptString(ciphertext, associatedData string) (string, error) {
	ct, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil {
		return "", ErrDecrypt
	}
	plain, err := k.Decrypt(ct, []byte(associatedData))
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// BlindIndex returns HMAC-SM3 under the index key of (domain, value), as 64
// lowercase hex digits. Store it beside the encrypted value and look rows up
// by it: equal values give equal indexes, and without the key the index says
// nothing about the value.
//
// domain names what the value is ("id_number", "phone", ...), so the same
// digits in two roles give unrelated indexes. It is length-prefixed, so no
// (domain, value) pair can collide with another.
//
// BlindIndex does not normalise value: the caller must pass the canonical
// form, that is the output of ident.ValidateIDNumber (trimmed, upper-case X)
// or ident.ValidateMobile, both when storing and when searching.
func (k *Keyring) BlindIndex(domain, value string) string {
	m := hmac.New(sm3.New, k.indexKey[:])
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(domain)))
	m.Write(n[:])
	m.Write([]byte(domain))
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// SM3Hex returns the SM3 digest of the concatenation of data, in lowercase
// hex. It is for checksums and hash chains, not for secrets (use HMACSM3).
func SM3Hex(data ...[]byte) string {
	h := sm3.New()
	for _, d := range data {
		h.Write(d)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// HMACSM3 returns the 32-byte HMAC-SM3 of data under key.
func HMACSM3(key, data []byte) []byte {
	m := hmac.New(sm3.New, key)
	m.Write(data)
	return m.Sum(nil)
}
