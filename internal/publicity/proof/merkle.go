package proof

import (
	"bytes"
	"errors"

	"github.com/emmansun/gmsm/sm3"
)

// The Merkle tree is RFC 6962's (§2.1, as restated in RFC 9162 §2.1) with
// SM3 as the hash: a leaf is SM3(0x00 || row bytes), an inner node
// SM3(0x01 || left || right), and a tree of n > 1 leaves splits at the
// largest power of two below n. The prefixes keep a leaf from passing for a
// node (second-preimage attacks). SM3 because it is the digest the project
// publishes first and the one Chinese public-sector systems are assessed
// against (密评); `gmssl sm3` and `openssl dgst -sm3` recompute it.

// HashSize is the size of an SM3 digest.
const HashSize = sm3.Size

const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

// LeafHash returns SM3(0x00 || row).
func LeafHash(row []byte) []byte {
	h := sm3.New()
	h.Write([]byte{leafPrefix})
	h.Write(row)
	return h.Sum(nil)
}

// nodeHash returns SM3(0x01 || left || right).
func nodeHash(left, right []byte) []byte {
	var b [1 + 2*HashSize]byte
	b[0] = nodePrefix
	copy(b[1:], left)
	copy(b[1+HashSize:], right)
	s := sm3.Sum(b[:])
	return s[:]
}

// Tree is a Merkle tree over rows, kept level by level so that any proof is
// read off without rehashing.
type Tree struct {
	// levels[0] are the leaf hashes; each next level pairs the previous
	// one, carrying a lone last node up unchanged — which is exactly the
	// RFC 6962 split at the largest power of two.
	levels [][][]byte
}

// NewTree builds the tree over the given rows (their canonical bytes).
func NewTree(rows [][]byte) *Tree {
	level := make([][]byte, len(rows))
	for i, r := range rows {
		level[i] = LeafHash(r)
	}
	t := &Tree{levels: [][][]byte{level}}
	for len(level) > 1 {
		next := make([][]byte, 0, (len(level)+1)/2)
		for i := 0; i+1 < len(level); i += 2 {
			next = append(next, nodeHash(level[i], level[i+1]))
		}
		if len(level)%2 == 1 {
			next = append(next, level[len(level)-1])
		}
		t.levels = append(t.levels, next)
		level = next
	}
	return t
}

// Size is the number of leaves.
func (t *Tree) Size() int { return len(t.levels[0]) }

// Root returns the tree head; for no rows it is SM3 of nothing, as in RFC 6962.
func (t *Tree) Root() []byte {
	top := t.levels[len(t.levels)-1]
	if len(top) == 0 {
		s := sm3.Sum(nil)
		return s[:]
	}
	return top[0]
}

// Proof is an audit path: the sibling hashes from the leaf up to the root.
type Proof struct {
	Index int      // the leaf's position, from 0
	Size  int      // the number of leaves in the tree
	Path  [][]byte // sibling hashes, leaf end first
}

// ErrIndex is returned for a leaf index outside the tree.
var ErrIndex = errors.New("proof: index outside the tree")

// Proof returns the audit path of leaf index.
func (t *Tree) Proof(index int) (Proof, error) {
	if index < 0 || index >= t.Size() {
		return Proof{}, ErrIndex
	}
	p := Proof{Index: index, Size: t.Size()}
	i := index
	for _, level := range t.levels[:len(t.levels)-1] {
		switch {
		case i%2 == 1:
			p.Path = append(p.Path, level[i-1])
		case i+1 < len(level):
			p.Path = append(p.Path, level[i+1])
		}
		i /= 2
	}
	return p, nil
}

// ErrPath is returned when an audit path does not lead to the root.
var ErrPath = errors.New("默克尔路径与根不符 / the Merkle path does not lead to the root")

// Verify checks that row is leaf p.Index of a tree of p.Size leaves with
// the given root, by the algorithm of RFC 9162 §2.1.3.2. It needs nothing
// but the row, the path and the root.
func Verify(root, row []byte, p Proof) error {
	if p.Index < 0 || p.Size < 1 || p.Index >= p.Size {
		return ErrIndex
	}
	fn, sn := p.Index, p.Size-1
	r := LeafHash(row)
	for _, h := range p.Path {
		if len(h) != HashSize {
			return ErrPath
		}
		if sn == 0 {
			return ErrPath
		}
		if fn%2 == 1 || fn == sn {
			r = nodeHash(h, r)
			for fn%2 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, h)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || !bytes.Equal(r, root) {
		return ErrPath
	}
	return nil
}
