package proof

import (
	"encoding/binary"
	"encoding/hex"
	"math/bits"
	"strings"
	"testing"
)

// refSM3 is a plain transcription of GB/T 32905-2016 written for the tests
// only, so that the digests the package publishes are checked against an
// implementation that shares no code with it (the project's crypto package
// and gmsm are one and the same underneath).
func refSM3(msg []byte) []byte {
	v := [8]uint32{0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e}
	// Padding: 1 bit, zeros to 448 mod 512, then the length in bits (64-bit big endian).
	m := append([]byte{}, msg...)
	m = append(m, 0x80)
	for len(m)%64 != 56 {
		m = append(m, 0)
	}
	m = binary.BigEndian.AppendUint64(m, uint64(len(msg))*8)
	rotl := bits.RotateLeft32
	p0 := func(x uint32) uint32 { return x ^ rotl(x, 9) ^ rotl(x, 17) }
	p1 := func(x uint32) uint32 { return x ^ rotl(x, 15) ^ rotl(x, 23) }
	for off := 0; off < len(m); off += 64 {
		var w [68]uint32
		var w1 [64]uint32
		for j := range 16 {
			w[j] = binary.BigEndian.Uint32(m[off+4*j:])
		}
		for j := 16; j < 68; j++ {
			w[j] = p1(w[j-16]^w[j-9]^rotl(w[j-3], 15)) ^ rotl(w[j-13], 7) ^ w[j-6]
		}
		for j := range 64 {
			w1[j] = w[j] ^ w[j+4]
		}
		a, b, c, d, e, f, g, h := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
		for j := range 64 {
			tj := uint32(0x79cc4519)
			if j >= 16 {
				tj = 0x7a879d8a
			}
			ss1 := rotl(rotl(a, 12)+e+rotl(tj, j%32), 7)
			ss2 := ss1 ^ rotl(a, 12)
			var ff, gg uint32
			if j < 16 {
				ff, gg = a^b^c, e^f^g
			} else {
				ff, gg = (a&b)|(a&c)|(b&c), (e&f)|(^e&g)
			}
			tt1 := ff + d + ss2 + w1[j]
			tt2 := gg + h + ss1 + w[j]
			d, c, b, a = c, rotl(b, 9), a, tt1
			h, g, f, e = g, rotl(f, 19), e, p0(tt2)
		}
		v = [8]uint32{v[0] ^ a, v[1] ^ b, v[2] ^ c, v[3] ^ d, v[4] ^ e, v[5] ^ f, v[6] ^ g, v[7] ^ h}
	}
	out := make([]byte, 0, 32)
	for _, x := range v {
		out = binary.BigEndian.AppendUint32(out, x)
	}
	return out
}

// TestRefSM3 checks the test's own SM3 against GB/T 32905-2016 appendix A.
func TestRefSM3(t *testing.T) {
	for in, want := range map[string]string{
		"abc":                      "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
		strings.Repeat("abcd", 16): "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
	} {
		if got := hex.EncodeToString(refSM3([]byte(in))); got != want {
			t.Errorf("refSM3(%q) = %s, want %s", in, got, want)
		}
	}
}
