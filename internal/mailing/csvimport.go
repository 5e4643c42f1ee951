package mailing

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	netmail "net/mail"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
)

// Limits of an import.
const (
	// maxLine is the longest line read: an address, a name and a few
	// variables fit in far less; a longer line is rejected, not buffered.
	maxLine = 4096
	// maxRejected is how many rejected lines the report lists (all are
	// counted).
	maxRejected = 100
	// importChunk is the number of members one INSERT writes.
	importChunk = 2000
	// maxVar bounds a variable's value.
	maxVar = 200
	// sniffSize is how much of the file decides its encoding.
	sniffSize = 64 << 10
)

// ImportReport says what an import did.
type ImportReport struct {
	ListID   int64  `json:"list_id"`
	List     string `json:"list"`
	Encoding string `json:"encoding"` // "UTF-8" or "GB18030" (GBK)
	Lines    int    `json:"lines"`    // data lines read, the header excluded
	// Accepted is the number of new members; Duplicates the lines whose
	// address came earlier in the file or is already on the list.
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   int `json:"rejected"`
	// RejectedLines are the first 100 rejected lines.
	RejectedLines []RejectedLine  `json:"rejected_lines"`
	Ignored       []IgnoredColumn `json:"ignored_columns"`
}

// RejectedLine is a line not imported, with why. Text is the line as read,
// shortened and neutralized (a leading =, +, - or @ gets a quote) so that a
// spreadsheet opening the report never evaluates it.
type RejectedLine struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	Text   string `json:"text"`
}

// IgnoredColumn is a column of the file that is not imported.
type IgnoredColumn struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// columnAliases maps a header (lower-cased) to the variable it fills.
var columnAliases = map[string]string{
	"email": "email", "e-mail": "email", "mail": "email", "邮箱": "email", "电子邮箱": "email", "电子邮件": "email", "邮件地址": "email",
	"name": "name", "姓名": "name", "名称": "name",
	"employer": "employer", "单位": "employer", "工作单位": "employer", "用人单位": "employer", "单位名称": "employer",
	"district": "district", "区": "district", "所在区": "district",
	"year": "year", "年度": "year",
	"status": "status", "状态": "status",
	"role": "role", "角色": "role",
}

// personalColumn reports whether a header names personal data that is
// never imported: ID numbers and phone numbers.
func personalColumn(h string) bool {
	h = strings.ToLower(h)
	for _, w := range []string{"身份证", "证件", "phone", "手机", "电话", "mobile", "id_number", "idnumber", "id_card", "idcard", "id_no", "tel"} {
		if strings.Contains(h, w) {
			return true
		}
	}
	return false
}

// Neutralize makes a cell safe to show in a spreadsheet: a value starting
// with =, +, -, @ (or a tab or carriage return) gets a leading apostrophe,
// so it is shown as text and never evaluated as a formula.
func Neutralize(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ValidEmail returns the address lower-cased and trimmed, and whether it is
// a plain address (local@domain.tld, no display name, at most 254 bytes).
func ValidEmail(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || len(s) > 254 || strings.ContainsAny(s, " <>\"\\,;") {
		return s, false
	}
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Address != s {
		return s, false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if at < 1 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.Contains(domain, "..") {
		return s, false
	}
	return s, true
}

// ImportCSV adds the addresses of a CSV file to the static list listName,
// creating it if new. The file has a column email (or 邮箱) and optionally
// name and the variables of docs/mailing.md; ID-number and phone columns
// are ignored. It is UTF-8 (with or without a BOM) or GBK/GB18030, as Excel
// writes it in China. Each line is checked on its own: a bad address, a
// line too long or not text is rejected with its number and the rest goes
// in; an address twice (in any case) counts once. The file streams: a
// million lines take bounded memory, written a few thousand a statement.
func (l *Lists) ImportCSV(ctx context.Context, by actor.Actor, listName string, r io.Reader) (*ImportReport, error) {
	if err := by.Require(actor.PermMailSend); err != nil {
		return nil, err
	}
	name, err := checkName("list", listName)
	if err != nil {
		return nil, err
	}
	li, err := l.ByName(ctx, name)
	switch {
	case apperr.Is(err, apperr.NotFound):
		if li, err = l.createList(ctx, by, name, Static, nil, ""); err != nil {
			if apperr.Is(err, apperr.Invalid) { // created by someone else meanwhile
				li, err = l.ByName(ctx, name)
			}
			if err != nil {
				return nil, err
			}
		}
	case err != nil:
		return nil, err
	}
	if li.Kind != Static {
		return nil, apperr.Field("list", fmt.Sprintf("“%s”是动态名单，不能导入地址", name))
	}
	rep := &ImportReport{ListID: li.ID, List: li.Name, RejectedLines: []RejectedLine{}, Ignored: []IgnoredColumn{}}
	src, err := decoded(r, rep)
	if err != nil {
		return nil, err
	}
	_, lazy := src.(asciiStart)
	imp := &importer{l: l, rep: rep, listID: li.ID, lazy: lazy}
	if err := imp.run(ctx, src); err != nil {
		return nil, err
	}
	if err := l.record(ctx, by, audit.Entry{Action: "mailing.list.import", ObjectType: "mail_list",
		ObjectID: strconv.FormatInt(li.ID, 10), Reason: fmt.Sprintf("accepted %d duplicates %d rejected %d encoding %s",
			rep.Accepted, rep.Duplicates, rep.Rejected, rep.Encoding)}); err != nil {
		return nil, apperr.Wrap(err)
	}
	return rep, nil
}

// decoded sniffs the start of the file: a NUL byte means a binary file
// (refused); valid UTF-8 (a BOM dropped) is read as is; anything else is
// decoded as GB18030, the superset of GBK.
func decoded(r io.Reader, rep *ImportReport) (io.Reader, error) {
	br := bufio.NewReaderSize(r, sniffSize)
	head, err := br.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, apperr.Field("file", "文件无法读取")
	}
	if len(bytes.TrimSpace(head)) == 0 {
		return nil, apperr.Field("file", "文件为空")
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return nil, apperr.Field("file", "文件不是 CSV 文本（含有二进制内容），请在 Excel 中“另存为 CSV”后上传")
	}
	if bytes.HasPrefix(head, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
		rep.Encoding = "UTF-8"
		return br, nil
	}
	probe := head
	if len(head) == sniffSize { // the peek may end inside a character
		if i := bytes.LastIndexByte(head, '\n'); i > 0 {
			probe = head[:i]
		}
	}
	if utf8.Valid(probe) {
		rep.Encoding = "UTF-8"
		if isASCII(probe) {
			// Nothing decided yet: the Chinese may come later in the file.
			return asciiStart{br}, nil
		}
		return br, nil
	}
	rep.Encoding = "GB18030"
	return transform.NewReader(br, gb18030.NewDecoder()), nil
}

// asciiStart is a file whose start is plain ASCII, so the sniff decided
// nothing: each later line is UTF-8 if valid, else GB18030 (the first such
// line names the encoding in the report).
type asciiStart struct{ io.Reader }

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

var gb18030 = simplifiedchinese.GB18030

// importer carries one import's state.
type importer struct {
	l      *Lists
	rep    *ImportReport
	listID int64
	col    map[string]int // variable → column
	batch  []map[string]any
	lineNo int
	lazy   bool // the encoding is decided per line (asciiStart)
}

func (im *importer) reject(line int, reason, text string) {
	im.rep.Rejected++
	if len(im.rep.RejectedLines) < maxRejected {
		if utf8.RuneCountInString(text) > 80 {
			text = string([]rune(text)[:80]) + "…"
		}
		im.rep.RejectedLines = append(im.rep.RejectedLines, RejectedLine{Line: line, Reason: reason, Text: Neutralize(strings.ToValidUTF8(text, "?"))})
	}
}

func (im *importer) run(ctx context.Context, src io.Reader) error {
	// A bufio.Reader src (the sniffer's) would be reused with its larger
	// buffer: hide it, so that lines are bounded by maxLine.
	br := bufio.NewReaderSize(struct{ io.Reader }{src}, maxLine)
	header := true
	for {
		raw, long, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return apperr.Field("file", "文件无法读取")
		}
		if raw == nil && errors.Is(err, io.EOF) {
			break
		}
		im.lineNo++
		line := strings.TrimRight(string(raw), "\r\n")
		switch {
		case long:
			if header {
				return apperr.Field("file", fmt.Sprintf("第 %d 行（表头）超过 %d 字节，文件不是邮件名单", im.lineNo, maxLine))
			}
			im.rep.Lines++
			im.reject(im.lineNo, fmt.Sprintf("该行超过 %d 字节", maxLine), line)
		case strings.TrimSpace(line) == "":
		case header:
			if err := im.header(line); err != nil {
				return err
			}
			header = false
		default:
			im.rep.Lines++
			im.row(line)
			if len(im.batch) >= importChunk {
				if err := im.flush(ctx); err != nil {
					return err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if header {
		return apperr.Field("file", "文件为空")
	}
	return im.flush(ctx)
}

// readLine returns the next line with its newline; a line longer than the
// reader's buffer is skipped to its end and reported as long.
func readLine(br *bufio.Reader) (line []byte, long bool, err error) {
	b, err := br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		if len(b) == 0 {
			return nil, false, err
		}
		return bytes.Clone(b), false, err
	}
	prefix := bytes.Clone(b[:min(len(b), 200)])
	for errors.Is(err, bufio.ErrBufferFull) {
		_, err = br.ReadSlice('\n')
	}
	return prefix, true, err
}

// fields splits one line as CSV; a quoted field cannot span lines.
func fields(line string) ([]string, error) {
	if !strings.ContainsRune(line, '"') {
		return strings.Split(line, ","), nil
	}
	cr := csv.NewReader(strings.NewReader(line))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true // a quote inside a cell (a formula) is text
	return cr.Read()
}

func (im *importer) header(line string) error {
	hs, err := fields(strings.TrimPrefix(line, "\ufeff"))
	if err != nil {
		return apperr.Field("file", fmt.Sprintf("第 %d 行（表头）不是有效的 CSV", im.lineNo))
	}
	im.col = map[string]int{}
	for i, h := range hs {
		h = strings.TrimSpace(h)
		v, ok := columnAliases[strings.ToLower(h)]
		switch {
		case h == "":
		case personalColumn(h) && !ok:
			im.rep.Ignored = append(im.rep.Ignored, IgnoredColumn{Name: Neutralize(h), Reason: "身份证号、手机号等个人敏感信息不导入"})
		case !ok:
			im.rep.Ignored = append(im.rep.Ignored, IgnoredColumn{Name: Neutralize(h), Reason: "不是邮件模板可用的变量"})
		default:
			if _, dup := im.col[v]; dup {
				return apperr.Field("file", fmt.Sprintf("第 %d 行（表头）：列“%s”重复", im.lineNo, Neutralize(h)))
			}
			im.col[v] = i
		}
	}
	if _, ok := im.col["email"]; !ok {
		return apperr.Field("file", "表头缺少 email（邮箱）列：第一行须是列名，其中一列为 email")
	}
	return nil
}

func (im *importer) row(line string) {
	if im.lazy && !utf8.ValidString(line) {
		if dec, err := gb18030.NewDecoder().String(line); err == nil {
			line = dec
			im.rep.Encoding = "GB18030"
		}
	}
	if !utf8.ValidString(line) || strings.ContainsRune(line, utf8.RuneError) {
		im.reject(im.lineNo, "含有无法识别的字符（文件编码应为 UTF-8 或 GBK）", line)
		return
	}
	if strings.ContainsRune(line, 0) {
		im.reject(im.lineNo, "含有二进制内容", line)
		return
	}
	fs, err := fields(line)
	if err != nil {
		im.reject(im.lineNo, "不是有效的 CSV（引号不配对）", line)
		return
	}
	get := func(v string) string {
		if i, ok := im.col[v]; ok && i < len(fs) {
			return strings.TrimSpace(fs[i])
		}
		return ""
	}
	email, ok := ValidEmail(get("email"))
	if !ok {
		if email == "" {
			im.reject(im.lineNo, "邮箱为空", line)
		} else {
			im.reject(im.lineNo, "邮箱地址格式不正确", line)
		}
		return
	}
	vars := map[string]string{}
	for v := range im.col {
		if v == "email" {
			continue
		}
		// Cells are data: a formula is kept as the text it is and never
		// evaluated; templates escape it like any other value.
		val := get(v)
		if utf8.RuneCountInString(val) > maxVar {
			im.reject(im.lineNo, fmt.Sprintf("%s 超过 %d 个字", v, maxVar), line)
			return
		}
		if val != "" {
			vars[v] = val
		}
	}
	name := vars["name"]
	delete(vars, "name")
	im.batch = append(im.batch, map[string]any{"email": email, "name": name, "vars": jsonText(vars)})
}

func jsonText(m map[string]string) string {
	b, _ := json.Marshal(m) // a map of strings always marshals
	return string(b)
}

// flush writes the batch. An address already on the list (earlier in the
// file or from an earlier import) is kept as it was and counted as a
// duplicate: the table's key deduplicates, so memory does not grow with the
// file. (SQLite needs the WHERE to parse an upsert from a SELECT.)
func (im *importer) flush(ctx context.Context) error {
	if len(im.batch) == 0 {
		return nil
	}
	d := im.l.db
	b, err := json.Marshal(im.batch)
	if err != nil {
		return apperr.Wrap(err)
	}
	res, err := d.Exec(ctx, `INSERT INTO mail_list_members (list_id, email, name, vars)
		SELECT $1, r.email, r.name, r.vars FROM `+d.JSONRows("$2", "email TEXT", "name TEXT", "vars TEXT")+` r
		WHERE true ON CONFLICT (list_id, email) DO NOTHING`, im.listID, string(b))
	if err != nil {
		return apperr.Wrap(fmt.Errorf("insert mail list members: %w", err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return apperr.Wrap(err)
	}
	im.rep.Accepted += int(n)
	im.rep.Duplicates += len(im.batch) - int(n)
	im.batch = im.batch[:0]
	return nil
}
