package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"jifen/internal/publicity/proof"
)

// maxReceipt bounds what is read of a receipt: a real one is a few
// kilobytes (a path of at most 64 hashes), so more is not a receipt.
const maxReceipt = 1 << 20

// runPublicityVerify checks a receipt of a published list offline, with no
// configuration and no database: anyone holding the receipt (and, to check
// the root too, the downloaded canonical file) can run it
// (`jifen publicity verify`).
func runPublicityVerify(_ context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("jifen publicity verify", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	receipt := fs.String("receipt", "", "the receipt JSON file (- for stdin)")
	list := fs.String("list", "", "the downloaded canonical list file, to check its digests and Merkle root as well")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: jifen publicity verify --receipt F [--list canonical-file]

Checks a receipt of a published 积分落户 list (docs/publicity.md): that its
Merkle path leads from the row to the root. With --list it also recomputes
the file's SM3 and SHA-256, rebuilds the Merkle tree from the file and checks
that the receipt's row is in it. Prints OK and exits 0, or names what failed
and exits 1.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *receipt == "" {
		fs.Usage()
		return errors.New("缺少 --receipt / --receipt is required")
	}
	b, err := readLimited(env, *receipt, maxReceipt)
	if err != nil {
		return err
	}
	var r proof.Receipt
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return fmt.Errorf("回执不是有效的 JSON / the receipt is not valid JSON: %v", err)
	}
	if *list == "" {
		if err := proof.VerifyReceipt(&r); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "OK %d 年第 %d 版公示名单，公示编号 %s 在 Merkle 根 %s 之下 / row %s is under Merkle root %s (year %d, version %d)\n"+
			"   请将该根与公示页面公布的根比对 / compare this root with the one on the public page, or pass --list\n",
			r.Year, r.Version, r.Number, r.MerkleRoot, r.Number, r.MerkleRoot, r.Year, r.Version)
		return nil
	}
	file, err := os.ReadFile(*list)
	if err != nil {
		return err
	}
	if err := proof.CheckAgainstList(&r, file); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "OK %d 年第 %d 版公示名单，公示编号 %s 在名单中 / row %s is in the list (year %d, version %d)\n"+
		"   SM3     %s\n   SHA-256 %s\n   Merkle  %s\n",
		r.Year, r.Version, r.Number, r.Number, r.Year, r.Version, r.ListSM3, r.ListSHA256, r.MerkleRoot)
	return nil
}

// readLimited reads a file (or stdin for "-"), refusing more than limit bytes.
func readLimited(env Env, name string, limit int64) ([]byte, error) {
	rd := env.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		rd = f
	}
	b, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: 文件过大 / larger than %d bytes", name, limit)
	}
	return b, nil
}
