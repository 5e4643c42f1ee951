package objection

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
)

// Limits of what the public form takes.
const (
	MinText       = 10
	MaxText       = 2000
	MaxContact    = 100
	MaxNumber     = 32
	MaxAttachment = 5 << 20 // 5 MB
)

// Messages the form shows beside its fields.
const (
	MsgAttachmentType = "附件必须是 PDF、JPG 或 PNG 文件"
	MsgAttachmentSize = "附件不能超过5MB，请压缩后再上传"
)

// Lodging is what the public form sends.
type Lodging struct {
	Year    int
	Number  string // 公示编号
	Grounds string
	Contact string    // optional
	File    io.Reader // optional attachment; nil when none
	// The client's address and the request's id, for the audit trail.
	ClientAddr, RequestID string
}

// Receipt is what the one who lodged an objection gets back.
type Receipt struct {
	Receipt string `json:"receipt"` // grouped: ABCD-EFGH-JKLM-NPQR
	Year    int    `json:"year"`
	Number  string `json:"number"`
}

// checkText reports what is wrong with a text field: invalid UTF-8 or a
// control character other than a line break or tab ("" when none).
func checkText(s string, multiline bool) string {
	if !utf8.ValidString(s) {
		return "含有无法识别的字符，请重新输入"
	}
	for _, c := range s {
		if unicode.IsControl(c) && !(multiline && (c == '\n' || c == '\r' || c == '\t')) {
			return "含有不可见的控制字符，请删除后重新输入"
		}
	}
	return ""
}

// NoticeText writes a notice period [start, end) in Beijing dates.
func NoticeText(start, end time.Time) string {
	return clock.BeijingDay(start).Format(time.DateOnly) + " 至 " + clock.BeijingDay(end.Add(-time.Nanosecond)).Format(time.DateOnly)
}

// Lodge records an objection and returns its receipt. It is refused, with
// the reason, for a year without a published list, outside the list's
// notice period, for a 公示编号 not in the list, for grounds shorter than
// 10 or longer than 2000 characters, a contact over 100, and an attachment
// over 5 MB or whose bytes are not a PDF, JPEG or PNG whatever its name.
// The contact is sealed with the keyring; the attachment goes to the blob
// store before the transaction (slow work first) and only once everything
// else is valid, so a refused form stores nothing.
func (s *Service) Lodge(ctx context.Context, l Lodging) (*Receipt, error) {
	var fe []apperr.FieldError
	add := func(field, msg string) { fe = append(fe, apperr.FieldError{Field: field, Message: msg}) }
	number := strings.TrimSpace(l.Number)
	grounds := strings.TrimSpace(l.Grounds)
	contact := strings.TrimSpace(l.Contact)
	lists, _ := s.publication()
	start, end, published := lists.Notice(l.Year)
	switch {
	case !published:
		add("year", fmt.Sprintf("%d年没有正在公示的积分落户名单，不能提出异议", l.Year))
	case number == "":
		add("number", "请填写您要提出异议的公示编号")
	case checkText(number, false) != "" || utf8.RuneCountInString(number) > MaxNumber:
		add("number", "公示编号格式不正确，请按公示名单中的编号填写")
	case !lists.Has(l.Year, number):
		add("number", fmt.Sprintf("公示编号“%s”不在%d年公示名单中，请核对", number, l.Year))
	}
	if msg := checkText(grounds, true); msg != "" {
		add("grounds", "异议理由"+msg)
	} else if n := utf8.RuneCountInString(grounds); n < MinText || n > MaxText {
		add("grounds", fmt.Sprintf("请写明异议的事实和理由（%d到%d字，现为%d字）", MinText, MaxText, n))
	}
	if msg := checkText(contact, false); msg != "" {
		add("contact", "联系方式"+msg)
	} else if utf8.RuneCountInString(contact) > MaxContact {
		add("contact", fmt.Sprintf("联系方式不能超过%d字", MaxContact))
	}
	// The notice period is checked last: a form refused for it names the
	// period, whatever else is wrong.
	now := s.clock.Now()
	if published && (now.Before(start) || !now.Before(end)) {
		return nil, apperr.New(apperr.Conflict, fmt.Sprintf("%d年积分落户名单的公示期为 %s，只能在公示期内提出异议", l.Year, NoticeText(start, end)))
	}
	if err := apperr.Fields(fe); err != nil {
		return nil, err
	}
	var info blob.Info
	if l.File != nil {
		var err error
		if info, err = s.putAttachment(ctx, l.File); err != nil {
			return nil, err
		}
	}
	sealed := ""
	receipt := newReceipt()
	if contact != "" {
		var err error
		if sealed, err = s.keys.EncryptString(contact, contactAD(receipt)); err != nil {
			return nil, apperr.Wrap(err)
		}
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		at := db.Micros(now)
		var id int64
		err := s.db.QueryRow(ctx, `INSERT INTO objections (receipt, year, number, grounds, contact_enc, attachment_key,
			attachment_type, attachment_size, status, version, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'lodged', 1, $9, $9) RETURNING id`,
			receipt, l.Year, number, grounds, sealed, info.Key, info.ContentType, info.Size, at).Scan(&id)
		if err != nil {
			return err
		}
		if err := s.event(ctx, id, "lodged", 0, ""); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{ActorRole: "public", ClientAddr: l.ClientAddr, RequestID: l.RequestID,
			Action: "objection.lodge", ObjectType: "objection", ObjectID: strconv.FormatInt(id, 10),
			Reason: fmt.Sprintf("%d年公示编号 %s", l.Year, number)})
	})
	if err != nil {
		// A receipt drawn twice (80 bits: never in practice) fails the
		// unique index like any other write: the person sends the form again.
		return nil, apperr.Wrap(err)
	}
	return &Receipt{Receipt: GroupReceipt(receipt), Year: l.Year, Number: number}, nil
}

// putAttachment sniffs the file's first bytes before storing anything: a
// file that is not a PDF, JPEG or PNG is refused whatever its name or
// declared type, and never reaches the store.
func (s *Service) putAttachment(ctx context.Context, r io.Reader) (blob.Info, error) {
	head := make([]byte, 512)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		if tooLarge(err) {
			return blob.Info{}, apperr.Field("attachment", MsgAttachmentSize)
		}
		return blob.Info{}, apperr.Wrap(err)
	}
	head = head[:n]
	if blob.Sniff(head) == "" {
		return blob.Info{}, apperr.Field("attachment", MsgAttachmentType)
	}
	info, err := s.store.Put(ctx, io.MultiReader(bytes.NewReader(head), r), MaxAttachment)
	switch {
	case errors.Is(err, blob.ErrTooLarge) || tooLarge(err):
		return blob.Info{}, apperr.Field("attachment", MsgAttachmentSize)
	case err != nil:
		return blob.Info{}, apperr.Wrap(err)
	}
	return info, nil
}

// tooLarge reports a body cut by the listener's limit (http.MaxBytesError,
// matched by its text: a domain package does not import net/http).
func tooLarge(err error) bool {
	return err != nil && strings.Contains(err.Error(), "request body too large")
}

// Public is what the follow page shows to whoever holds the receipt: the
// status and its dates, and the answer and outcome once answered; never the
// contact, the attachment or the office's notes.
type Public struct {
	Receipt    string    `json:"receipt"`
	Year       int       `json:"year"`
	Number     string    `json:"number"`
	Status     Status    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
	Outcome    Outcome   `json:"outcome,omitempty"`
	Answer     string    `json:"answer,omitempty"`
}

// StatusName is the Chinese name of the status.
func (p *Public) StatusName() string { return StatusName(p.Status) }

// OutcomeName is the Chinese name of the outcome, "" before the answer.
func (p *Public) OutcomeName() string { return OutcomeName(p.Outcome) }

// Get returns the public view of the objection with receipt (typed in any
// case, with or without dashes).
func (s *Service) Get(ctx context.Context, receipt string) (*Public, error) {
	r, ok := NormalizeReceipt(receipt)
	if !ok {
		return nil, ErrNotFound
	}
	o, err := scanObjection(s.db.QueryRow(ctx, selectObjection+` WHERE receipt = $1`, r))
	if db.IsNoRows(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	p := &Public{Receipt: o.Receipt, Year: o.Year, Number: o.Number, Status: o.Status, CreatedAt: o.CreatedAt}
	if o.Status == Answered {
		p.AnsweredAt, p.Outcome, p.Answer = o.AnsweredAt, o.Outcome, o.Answer
	}
	return p, nil
}
