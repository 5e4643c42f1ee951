// Package bounce reads the bounces, delivery status notifications and
// complaints that come back to the VERP return paths of jifen's mass mail,
// and runs the inbound SMTP listener that receives them.
//
// Parse understands RFC 3464 delivery status notifications
// (multipart/report with a message/delivery-status part, as Postfix, Exim,
// Exchange, Office 365 and most others send), RFC 5965 feedback reports
// (ARF, a recipient's complaint), and — by heuristics on the text — the
// bounces without a machine-readable part: QQ Mail's Chinese notices, old
// Exchange NDRs, Exim without DSN.
package bounce

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"
)

// Report is one recipient's outcome in a DSN (RFC 3464) or a non-standard
// bounce (QQ Mail, Exchange without message/delivery-status).
type Report struct {
	Recipient  string // the final recipient, lower-cased; "" when the report hides it (a redacted complaint)
	Action     string // failed | delayed | delivered | relayed | expanded
	Status     string // enhanced code, e.g. "5.1.1"
	Kind       string // "hard" (5.x.x failed), "soft" (4.x.x, delayed), "" when delivered
	Diagnostic string // the remote server's text
	Complaint  bool   // an ARF feedback report (RFC 5965): a complaint
}

// The kinds of a failed delivery.
const (
	Hard = "hard" // the address is bad: suppress it
	Soft = "soft" // worth another try later
)

// ErrNotBounce is returned by Parse for a message that is neither a
// delivery report, a complaint nor a recognisable bounce (an auto-reply, a
// person writing to the bounce address).
var ErrNotBounce = errors.New("bounce: not a delivery report")

// Limits of what Parse reads: a bounce is small, a hostile one is not.
const (
	maxDepth  = 8       // nested multiparts
	maxParts  = 64      // parts in all
	maxText   = 1 << 20 // decoded text kept for the heuristics
	maxReport = 1000    // recipients in one report
)

// Parse reads one bounce and returns a Report per recipient it names.
//
// Kind is "hard" for a failed delivery with a 5.x.x status, except when the
// remote server's text says the refusal is about the sender rather than the
// address (a rate or frequency limit, a blocked IP, SPF/DKIM/DMARC, spam
// reputation; QQ Mail answers "550 Ip frequency limited") — then "soft",
// since suppressing the address would lose a good recipient; a text saying
// the mailbox does not exist makes it "hard" whatever else it says. "soft"
// for delayed and for 4.x.x; "" for delivered, relayed and expanded.
func Parse(raw []byte) ([]Report, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("bounce: read message: %w", err)
	}
	w := &walker{}
	w.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0)

	if len(w.feedback) > 0 {
		return w.complaints(), nil
	}
	var out []Report
	for _, d := range w.dsn {
		out = append(out, w.parseDSN(d, msg.Header)...)
	}
	if len(out) > 0 {
		return out, nil
	}
	if !looksLikeBounce(msg.Header, w.text.String()) {
		return nil, ErrNotBounce
	}
	out = heuristic(msg.Header, w.text.String())
	if len(out) == 0 {
		return nil, ErrNotBounce
	}
	return out, nil
}

// walker collects the parts of a report.
type walker struct {
	dsn      [][]byte
	feedback [][]byte
	original mail.Header // the headers of the returned message, if enclosed
	text     strings.Builder
	parts    int
}

func (w *walker) walk(contentType, cte string, body io.Reader, depth int) {
	w.parts++
	if w.parts > maxParts {
		return
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || contentType == "" {
		mt, params = "text/plain", map[string]string{}
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth >= maxDepth || params["boundary"] == "" {
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			w.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1)
		}
	}
	b, err := io.ReadAll(io.LimitReader(decodeCTE(cte, body), maxText))
	if err != nil && len(b) == 0 {
		return
	}
	switch mt {
	case "message/delivery-status", "message/global-delivery-status":
		w.dsn = append(w.dsn, b)
	case "message/feedback-report":
		w.feedback = append(w.feedback, b)
	case "message/rfc822", "text/rfc822-headers", "message/rfc822-headers", "message/global", "message/global-headers":
		if w.original == nil {
			if m, err := mail.ReadMessage(bytes.NewReader(append(b, '\r', '\n', '\r', '\n'))); err == nil {
				w.original = m.Header
			}
		}
	case "text/plain":
		w.addText(toUTF8(b, params["charset"]))
	case "text/html":
		w.addText(stripHTML(toUTF8(b, params["charset"])))
	}
}

func (w *walker) addText(s string) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if w.text.Len()+len(s) > maxText {
		return
	}
	w.text.WriteString(s)
	w.text.WriteString("\n")
}

func decodeCTE(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &base64Cleaner{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// base64Cleaner drops the line breaks and spaces that the base64 decoder
// does not skip itself (it skips only \r and \n).
type base64Cleaner struct{ r io.Reader }

func (c *base64Cleaner) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	j := 0
	for _, b := range p[:n] {
		if b != ' ' && b != '\t' {
			p[j] = b
			j++
		}
	}
	return j, err
}

// toUTF8 decodes b from charset (GB18030, GBK, Big5, ISO-2022-JP ...); a
// charset it does not know leaves the bytes as they are.
func toUTF8(b []byte, charset string) string {
	cs := strings.ToLower(strings.TrimSpace(charset))
	if cs == "" || cs == "utf-8" || cs == "us-ascii" || cs == "ascii" {
		return string(b)
	}
	enc, err := htmlindex.Get(cs)
	if err != nil {
		return string(b)
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return string(b)
	}
	return string(out)
}

var (
	htmlBreakRE = regexp.MustCompile(`(?i)<\s*(br|/p|/tr|/div|/li|/h\d|/table)\b[^>]*>`)
	htmlCellRE  = regexp.MustCompile(`(?i)<\s*/td\s*>`)
	htmlDropRE  = regexp.MustCompile(`(?is)<(script|style|head)\b.*?</(script|style|head)\s*>`)
	htmlTagRE   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// stripHTML turns an HTML notice into text good enough for the heuristics.
func stripHTML(s string) string {
	s = htmlDropRE.ReplaceAllString(s, "")
	s = htmlBreakRE.ReplaceAllString(s, "\n")
	s = htmlCellRE.ReplaceAllString(s, " ")
	s = htmlTagRE.ReplaceAllString(s, "")
	return strings.ReplaceAll(html.UnescapeString(s), "\u00a0", " ")
}

// fieldBlocks splits a message/delivery-status or feedback-report body into
// its blocks of header fields (separated by blank lines), unfolding
// continuation lines. Field names are lower-cased; a repeated field keeps
// its first value.
func fieldBlocks(b []byte) []map[string]string {
	var blocks []map[string]string
	cur := map[string]string{}
	last := ""
	flush := func() {
		if len(cur) > 0 {
			blocks = append(blocks, cur)
		}
		cur, last = map[string]string{}, ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				cur[last] += " " + strings.TrimSpace(line)
			}
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				last = ""
				continue
			}
			name = strings.ToLower(strings.TrimSpace(name))
			if _, dup := cur[name]; dup {
				last = ""
				continue
			}
			cur[name] = strings.TrimSpace(value)
			last = name
		}
	}
	flush()
	return blocks
}

var (
	enhancedRE = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)
	smtpCodeRE = regexp.MustCompile(`(?:^|[^\d.])([45])\d\d(?:[ \-]|$)`)
	spaceRE    = regexp.MustCompile(`\s+`)
	addrRE     = regexp.MustCompile(`[A-Za-z0-9._%+\-=']+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+`)
)

// parseDSN reads the recipients of a message/delivery-status part.
func (w *walker) parseDSN(b []byte, top mail.Header) []Report {
	var out []Report
	blocks := fieldBlocks(b)
	var rcptBlocks []map[string]string
	for _, f := range blocks {
		if f["final-recipient"] != "" || f["original-recipient"] != "" || f["action"] != "" {
			rcptBlocks = append(rcptBlocks, f)
		}
	}
	for _, f := range rcptBlocks {
		if len(out) >= maxReport {
			break
		}
		r := Report{
			Recipient:  dsnAddress(f["final-recipient"]),
			Action:     dsnAction(f["action"]),
			Diagnostic: diagnostic(f["diagnostic-code"]),
		}
		if r.Recipient == "" {
			r.Recipient = dsnAddress(f["original-recipient"])
		}
		if r.Recipient == "" {
			r.Recipient = dsnAddress(f["x-actual-recipient"])
		}
		if r.Recipient == "" && len(rcptBlocks) == 1 {
			r.Recipient = w.fallbackRecipient(top)
		}
		r.Status = dsnStatus(f["status"], r.Diagnostic)
		if r.Action == "" {
			switch {
			case strings.HasPrefix(r.Status, "5."):
				r.Action = "failed"
			case strings.HasPrefix(r.Status, "4."):
				r.Action = "delayed"
			case strings.HasPrefix(r.Status, "2."):
				r.Action = "delivered"
			}
		}
		r.Kind = kind(r.Action, r.Status, r.Diagnostic)
		out = append(out, r)
	}
	return out
}

// fallbackRecipient is the one recipient the bounce names outside its
// report: X-Failed-Recipients, or the To of the returned message.
func (w *walker) fallbackRecipient(top mail.Header) string {
	if list := addrRE.FindAllString(top.Get("X-Failed-Recipients"), -1); len(list) == 1 {
		return strings.ToLower(list[0])
	}
	if w.original != nil {
		if list, err := w.original.AddressList("To"); err == nil && len(list) == 1 {
			return strings.ToLower(list[0].Address)
		}
	}
	return ""
}

// dsnAddress reads "rfc822; user@example.com"; anything but an address (a
// file, a pipe, "redacted") is "".
func dsnAddress(v string) string {
	if _, after, ok := strings.Cut(v, ";"); ok {
		v = after
	}
	v = strings.Trim(strings.TrimSpace(v), "<>")
	if !addrRE.MatchString(v) || addrRE.FindString(v) != v {
		return ""
	}
	return strings.ToLower(v)
}

func dsnAction(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if i := strings.IndexAny(v, " (;"); i >= 0 {
		v = v[:i]
	}
	switch v {
	case "failed", "delayed", "delivered", "relayed", "expanded":
		return v
	case "failure":
		return "failed"
	}
	return ""
}

// diagnostic drops the type ("smtp; ") and folds the spaces.
func diagnostic(v string) string {
	if typ, after, ok := strings.Cut(v, ";"); ok && !strings.ContainsAny(typ, " \t") {
		v = after
	}
	return strings.TrimSpace(spaceRE.ReplaceAllString(v, " "))
}

// dsnStatus is the enhanced code of the Status field; a vague one (x.0.0)
// gives way to a precise one of the same class in the diagnostic; with
// none, the diagnostic's reply code gives the class.
func dsnStatus(status, diag string) string {
	s := enhancedRE.FindString(status)
	if d := enhancedRE.FindString(diag); d != "" && (s == "" || (strings.HasSuffix(s, ".0.0") && d[0] == s[0])) {
		s = d
	}
	if s == "" {
		if m := smtpCodeRE.FindStringSubmatch(diag); m != nil {
			s = m[1] + ".0.0"
		}
	}
	return s
}

var (
	// unknownRE: the address itself is bad.
	unknownRE = regexp.MustCompile(`(?i)user unknown|unknown user|no such (user|mailbox|recipient)|mailbox (not found|unavailable|does not exist|disabled)|` +
		`does not exist|doesn't exist|recipient not found|recipnotfound|invalid recipient|not recognized|address rejected|` +
		`account (has been )?(disabled|suspended)|no mailbox|unknown recipient|不存在|无效的收件人|用户不存在|地址不存在`)
	// senderRE: the refusal is about the sender or its traffic, not the address.
	senderRE = regexp.MustCompile(`(?i)frequency limit|rate limit|too many|blocked|block ?list|black ?list|spamhaus|spam|` +
		`reputation|dmarc|\bspf\b|dkim|reverse dns|ptr record|temporar|try again|频率|频繁|垃圾邮件|拦截`)
	// delayRE: the notice is a warning that delivery goes on.
	delayRE = regexp.MustCompile(`(?i)delayed|has not yet been delivered|not been delivered yet|will (continue to )?retry|still trying|延迟|仍在尝试`)
	// fullRE: the mailbox is full, which may pass.
	fullRE = regexp.MustCompile(`(?i)mailbox (is )?full|over ?quota|quota exceeded|insufficient (system )?storage|空间不足|邮箱已满|容量`)
)

// kind classifies a recipient's outcome; see Parse.
func kind(action, status, diag string) string {
	switch action {
	case "delivered", "relayed", "expanded":
		return ""
	case "delayed":
		return Soft
	}
	switch {
	case strings.HasPrefix(status, "4."):
		return Soft
	case unknownRE.MatchString(diag):
		return Hard
	case strings.HasPrefix(status, "5.7.") || senderRE.MatchString(diag):
		return Soft
	case strings.HasPrefix(status, "5.2.2") || fullRE.MatchString(diag):
		return Soft
	}
	return Hard
}

// complaints reads ARF feedback reports.
func (w *walker) complaints() []Report {
	var out []Report
	for _, b := range w.feedback {
		blocks := fieldBlocks(b)
		if len(blocks) == 0 {
			continue
		}
		f := blocks[0]
		typ := strings.ToLower(strings.TrimSpace(f["feedback-type"]))
		r := Report{
			Recipient:  dsnAddress(f["original-rcpt-to"]),
			Action:     "delivered",
			Complaint:  typ != "not-spam",
			Diagnostic: strings.TrimSpace("feedback-type: " + typ),
		}
		if r.Recipient == "" {
			r.Recipient = dsnAddress(f["removal-recipient"])
		}
		if r.Recipient == "" && w.original != nil {
			if list, err := w.original.AddressList("To"); err == nil && len(list) == 1 {
				r.Recipient = dsnAddress(list[0].Address)
			}
		}
		out = append(out, r)
	}
	return out
}

var bounceSubjectRE = regexp.MustCompile(`(?i)undeliver|undelivered|delivery (status|failure|failed|has failed|notification)|` +
	`returned mail|returning message|failure notice|mail delivery|nondeliver|non-deliver|delayed mail|` +
	`退信|退回|未送达|无法送达|投递失败|发送失败`)

// looksLikeBounce keeps the heuristics to mail that says it is a bounce,
// so an auto-reply quoting an address is not taken for one.
func looksLikeBounce(h mail.Header, text string) bool {
	if h.Get("X-Failed-Recipients") != "" {
		return true
	}
	from := strings.ToLower(h.Get("From"))
	if strings.Contains(from, "mailer-daemon") || strings.Contains(from, "postmaster") || strings.Contains(from, "mail delivery") {
		return true
	}
	subject, err := wordDecoder.DecodeHeader(h.Get("Subject"))
	if err != nil {
		subject = h.Get("Subject")
	}
	return bounceSubjectRE.MatchString(subject)
}

// wordDecoder reads encoded words in any charset the web knows (GB18030,
// GBK, Big5 ...), as Chinese providers write their subjects.
var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, in io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(in), nil
}}

var (
	// QQ Mail: "无法发送到 addr", "收件人邮件地址（addr）不存在".
	qqRcptRE = regexp.MustCompile(`无法发送到\s*<?(` + addrRE.String() + `)`)
	// Exchange: "did not reach the following recipient(s):" then "addr on <date>".
	exchangeRE = regexp.MustCompile(`(?is)did not reach the following recipient\(s\):\s*(.*)`)
	// Exchange 2007+: "Delivery has failed to these recipients or groups:".
	exchange2007RE = regexp.MustCompile(`(?is)delivery has failed to these recipients or (?:distribution lists|groups):\s*(.*)`)
	// Exim: "The following address(es) failed:" then indented addresses.
	eximRE = regexp.MustCompile(`(?is)following address(?:\(es\))? failed:\s*(.*)`)
	// An entry of a list of failed recipients.
	listEntryRE = regexp.MustCompile(`(?m)^[ \t]*<?(` + addrRE.String() + `)|mailto:(` + addrRE.String() + `)`)
	// Postfix and sendmail text: "<addr>: reason".
	angleRE = regexp.MustCompile(`(?m)^\s*<(` + addrRE.String() + `)>:?`)
)

// heuristic finds recipients and reasons in the text of a bounce without a
// machine-readable report.
func heuristic(h mail.Header, text string) []Report {
	type hit struct {
		addr string
		pos  int // where the recipient's reason starts in text
	}
	var hits []hit
	seen := map[string]bool{}
	add := func(addr string, pos int) {
		a := strings.ToLower(addr)
		if seen[a] || len(hits) >= maxReport {
			return
		}
		seen[a] = true
		hits = append(hits, hit{a, pos})
	}
	for _, m := range qqRcptRE.FindAllStringSubmatchIndex(text, -1) {
		add(text[m[2]:m[3]], m[1])
	}
	for _, re := range []*regexp.Regexp{exchangeRE, exchange2007RE, eximRE} {
		if m := re.FindStringSubmatchIndex(text); m != nil {
			// The list: up to the first blank line after its first entry;
			// an entry is an address that starts a line or follows mailto:
			// (not the sender quoted in a reason).
			start := m[2]
			section := text[start:]
			lead := len(section) - len(strings.TrimLeft(section, " \t\n"))
			if i := strings.Index(section[lead:], "\n\n"); i >= 0 {
				section = section[:lead+i]
			}
			for _, am := range listEntryRE.FindAllStringSubmatchIndex(section, -1) {
				if am[2] >= 0 {
					add(section[am[2]:am[3]], start+am[3])
				} else {
					add(section[am[4]:am[5]], start+am[5])
				}
			}
		}
	}
	for _, m := range angleRE.FindAllStringSubmatchIndex(text, -1) {
		add(text[m[2]:m[3]], m[1])
	}
	if len(hits) == 0 {
		for _, a := range addrRE.FindAllString(h.Get("X-Failed-Recipients"), -1) {
			add(a, 0)
		}
	}
	for i := range hits {
		// The only failed recipient named by the header refines its place.
		if hits[i].pos == 0 {
			if j := strings.Index(strings.ToLower(text), hits[i].addr); j >= 0 {
				hits[i].pos = j + len(hits[i].addr)
			}
		}
	}
	delayed := delayRE.MatchString(text) && !strings.Contains(strings.ToLower(text), "permanent")
	var out []Report
	for i, ht := range hits {
		end := len(text)
		if i+1 < len(hits) && hits[i+1].pos > ht.pos {
			end = hits[i+1].pos
		}
		window := text[ht.pos:min(end, ht.pos+600)]
		r := Report{Recipient: ht.addr, Action: "failed", Diagnostic: reasonLine(window)}
		r.Status = dsnStatus("", window)
		if r.Status == "" || strings.HasSuffix(r.Status, ".0.0") {
			switch {
			case unknownRE.MatchString(window):
				r.Status = "5.1.1"
			case fullRE.MatchString(window):
				r.Status = "5.2.2"
			}
		}
		if delayed {
			r.Action = "delayed"
			if r.Status == "" {
				r.Status = "4.0.0"
			}
		}
		if r.Status == "" {
			r.Status = "5.0.0"
		}
		r.Kind = kind(r.Action, r.Status, window)
		out = append(out, r)
	}
	return out
}

// reasonLine picks the remote server's text from a recipient's part of a
// bounce: the line with a reply code, else QQ Mail's 退信原因, else the
// first non-empty lines.
func reasonLine(window string) string {
	lines := strings.Split(window, "\n")
	for i, l := range lines {
		if smtpCodeRE.MatchString(l) || enhancedRE.MatchString(l) {
			// Keep the continuation of a wrapped reply.
			s := l
			for _, next := range lines[i+1:] {
				if strings.TrimSpace(next) == "" || !(strings.HasPrefix(next, " ") || strings.HasPrefix(next, "\t")) {
					break
				}
				s += " " + next
			}
			return clip(s)
		}
	}
	for _, l := range lines {
		if _, after, ok := strings.Cut(l, "退信原因"); ok {
			return clip(after)
		}
	}
	var parts []string
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" {
			parts = append(parts, t)
			if len(parts) == 3 {
				break
			}
		}
	}
	return clip(strings.Join(parts, " "))
}

func clip(s string) string {
	s = strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
	if len(s) > 500 {
		s = s[:500]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}
