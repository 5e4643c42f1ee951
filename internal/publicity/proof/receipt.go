package proof

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"jifen/internal/platform/crypto"
)

// ReceiptFormat names the receipt's JSON layout (docs/publicity.md).
const ReceiptFormat = "jifen-publicity-receipt/1"

// Receipt proves that one row is in one version of a published list. It is
// self-contained: VerifyReceipt checks it offline, and whoever holds the
// canonical file (or the digests and root on the public page) checks that the
// root is the published one.
type Receipt struct {
	Format     string   `json:"format"`      // ReceiptFormat
	ListFormat string   `json:"list_format"` // Format of the list
	Year       int      `json:"year"`
	Version    int      `json:"version"`
	Number     string   `json:"number"` // 公示编号 of the row
	Row        string   `json:"row"`    // the row's canonical bytes, without LF
	Index      int      `json:"index"`  // the row's position in the file, from 0
	TreeSize   int      `json:"tree_size"`
	Hash       string   `json:"hash"` // "sm3": the Merkle tree's hash
	Path       []string `json:"path"` // sibling hashes in lowercase hex, leaf end first
	MerkleRoot string   `json:"merkle_root"`
	ListSM3    string   `json:"list_sm3"`    // SM3 of the canonical file
	ListSHA256 string   `json:"list_sha256"` // SHA-256 of the canonical file
}

// Sealed is a list frozen for publication: its canonical bytes, digests and
// Merkle tree computed once, so that a receipt is a lookup. The publication
// service keeps one per published version.
type Sealed struct {
	List      *List
	Canonical []byte
	SM3       string
	SHA256    string
	Root      string // Merkle root, lowercase hex
	rows      [][]byte
	index     map[string]int
	tree      *Tree
}

// Seal validates l and computes everything a publication shows. l must not
// change afterwards.
func (l *List) Seal() (*Sealed, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	rows := l.rowLines()
	canon := assemble(l.header(), rows)
	t := NewTree(rows)
	s := &Sealed{
		List: l, Canonical: canon, SM3: crypto.SM3Hex(canon), SHA256: sha256Hex(canon),
		Root: hex.EncodeToString(t.Root()), rows: rows, tree: t, index: make(map[string]int, len(rows)),
	}
	for i, r := range l.sorted() {
		s.index[r.Number] = i
	}
	return s, nil
}

// MerkleRoot returns the root of the Merkle tree over l's rows, in hex.
func (l *List) MerkleRoot() string {
	return hex.EncodeToString(NewTree(l.rowLines()).Root())
}

// ErrNoRow is returned for a 公示编号 that is not in the list.
var ErrNoRow = errors.New("公示编号不在名单中 / no row with this 公示编号 in the list")

// Receipt returns the receipt of the row with the given 公示编号.
func (l *List) Receipt(number string) (*Receipt, error) {
	s, err := l.Seal()
	if err != nil {
		return nil, err
	}
	return s.Receipt(number)
}

// Receipt returns the receipt of the row with the given 公示编号.
func (s *Sealed) Receipt(number string) (*Receipt, error) {
	i, ok := s.index[number]
	if !ok {
		return nil, ErrNoRow
	}
	p, err := s.tree.Proof(i)
	if err != nil {
		return nil, err
	}
	path := make([]string, len(p.Path))
	for k, h := range p.Path {
		path[k] = hex.EncodeToString(h)
	}
	return &Receipt{
		Format: ReceiptFormat, ListFormat: Format, Year: s.List.Year, Version: s.List.Version,
		Number: number, Row: string(s.rows[i]), Index: i, TreeSize: p.Size, Hash: "sm3",
		Path: path, MerkleRoot: s.Root, ListSM3: s.SM3, ListSHA256: s.SHA256,
	}, nil
}

// receiptError is a failed check, in Chinese and English.
func receiptError(zh, en string, args ...any) error {
	return errors.New("回执无效：" + fmt.Sprintf(zh, args...) + " / invalid receipt: " + fmt.Sprintf(en, args...))
}

// decodeHash reads 64 lowercase hex digits: upper case is refused so that
// one hash has one spelling and no edit of a receipt goes unnoticed.
func decodeHash(s string) ([]byte, bool) {
	if len(s) != 2*HashSize || strings.ToLower(s) != s {
		return nil, false
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}

// VerifyReceipt checks a receipt on its own: its form, that the row is the
// row of its 公示编号 and year, and that the Merkle path leads from the row
// to the root. It does not know whether the root is the published one: the
// caller compares it with the public page or the canonical file
// (CheckAgainstList).
func VerifyReceipt(r *Receipt) error {
	if r == nil {
		return receiptError("为空", "empty")
	}
	if r.Format != ReceiptFormat || r.ListFormat != Format {
		return receiptError("格式不是 %s", "the format is not %s", ReceiptFormat)
	}
	if r.Hash != "sm3" {
		return receiptError("哈希算法 %q 不受支持", "hash %q is not supported", r.Hash)
	}
	if r.Version < 1 || r.Year < 1000 || r.Year > 9999 {
		return receiptError("年度或版本号不正确", "the year or version is out of range")
	}
	for _, d := range []string{r.ListSM3, r.ListSHA256} {
		if _, ok := decodeHash(d); !ok {
			return receiptError("名单摘要格式不正确", "a list digest is not 64 lowercase hex digits")
		}
	}
	row, err := ParseRow([]byte(r.Row))
	if err != nil {
		return receiptError("名单行格式不正确（%v）", "the row is malformed (%v)", err)
	}
	if row.Number != r.Number || !strings.HasPrefix(r.Number, strconv.Itoa(r.Year)) {
		return receiptError("名单行的公示编号或年度与回执不符", "the row's 公示编号 or year does not match the receipt")
	}
	root, ok := decodeHash(r.MerkleRoot)
	if !ok {
		return receiptError("Merkle 根格式不正确", "the Merkle root is not 64 lowercase hex digits")
	}
	if len(r.Path) > 64 {
		return receiptError("Merkle 路径过长", "the Merkle path is too long")
	}
	p := Proof{Index: r.Index, Size: r.TreeSize, Path: make([][]byte, len(r.Path))}
	for i, h := range r.Path {
		if p.Path[i], ok = decodeHash(h); !ok {
			return receiptError("Merkle 路径第 %d 项格式不正确", "path entry %d is not 64 lowercase hex digits", i+1)
		}
	}
	switch err := Verify(root, []byte(r.Row), p); {
	case errors.Is(err, ErrIndex):
		return receiptError("位置 %d 不在 %d 行的名单内", "index %d is outside a list of %d rows", r.Index, r.TreeSize)
	case err != nil:
		return receiptError("Merkle 路径与根不符，名单行、位置或路径被改动过", "the Merkle path does not lead to the root: the row, index or path was altered")
	}
	return nil
}

// CheckAgainstList verifies r and then checks it against a canonical file:
// the file's SM3 and SHA-256 are the receipt's, the file is of the receipt's
// year and version, its Merkle root is the receipt's, and its row at the
// receipt's index is the receipt's row.
func CheckAgainstList(r *Receipt, file []byte) error {
	if err := VerifyReceipt(r); err != nil {
		return err
	}
	if crypto.SM3Hex(file) != r.ListSM3 || sha256Hex(file) != r.ListSHA256 {
		return receiptError("名单文件的 SM3 或 SHA-256 摘要与回执不符", "the list file's SM3 or SHA-256 digest differs from the receipt's")
	}
	l, err := Parse(file)
	if err != nil {
		return receiptError("名单文件不是规范格式（%v）", "the list file is not canonical (%v)", err)
	}
	if l.Year != r.Year || l.Version != r.Version {
		return receiptError("名单文件的年度或版本与回执不符", "the list file's year or version differs from the receipt's")
	}
	rows := l.rowLines()
	if hex.EncodeToString(NewTree(rows).Root()) != r.MerkleRoot || len(rows) != r.TreeSize {
		return receiptError("名单文件的 Merkle 根与回执不符", "the list file's Merkle root differs from the receipt's")
	}
	if string(rows[r.Index]) != r.Row {
		return receiptError("名单文件中该位置的行与回执不符", "the list file's row at the receipt's index differs")
	}
	return nil
}
