package loadtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Kinds of operation, each with its own latency goal (docs/loadtest.md).
const (
	Single  = "single"  // one business operation: p99 ≤ 100 ms
	Complex = "complex" // a complex or combined query: ≤ 1 s
	Login   = "login"   // a password login (argon2id): a small share
	Invalid = "invalid" // bad input: a quick 4xx, never a 5xx
)

// Op is one operation of the mix: a stream of requests at Rate per second
// at scale 1.
type Op struct {
	Name   string  // e.g. "applicant.home"
	Title  string  // in Chinese, for the report
	Side   string  // internet | office
	Kind   string  // Single, Complex, Login, Invalid
	Rate   float64 // requests per second at scale 1
	Expect []int   // the statuses that are the right answer
	target func(g *gen, t *vegeta.Target)
	// take, instead of target, sends an operation that uses up what it
	// acts on (a 复查 request received once, a decision made once); false
	// when none is left, which ends the operation's stream early.
	take func(g *gen, t *vegeta.Target) bool
	// needs names what the run must have found at setup for the
	// operation to be in the mix ("" always in): see (*gen).lacks.
	needs string
}

// gen builds requests from the sessions the run logged in.
type gen struct {
	st       *State
	internet string
	office   string
	mu       sync.Mutex
	rnd      *rand.Rand
	turn     int

	drafts, submitters, filed []session
	operators                 []opSession
	district                  []staffSession // district officers
	city                      []staffSession
	admins                    []staffSession             // system administrators
	declarations              map[string]json.RawMessage // draft login → declaration
	expired                   string                     // a session cookie of a session that ended
	calcBody                  []byte

	// receivable are 复查 requests the employers forwarded, for
	// office.review_receive; decidable were received and claimed at setup
	// for office.review_decide. Each is used once, in turn.
	receivable, decidable []review
	// discrepancies are open cross-check discrepancies for
	// office.discrepancy_accept, each resolved once, in turn.
	discrepancies []review
	// notice is the list in its notice period, for objection.lodge (nil:
	// none is).
	notice *notice
}

// review is a case — a 复查 request, a discrepancy — and the officer who
// acts on it.
type review struct {
	by        staffSession
	id        int64
	indicator string
	version   int
}

// notice is a published list in its notice period and numbers on it.
type notice struct {
	year    int
	numbers []string
}

// takeReview hands out the next case of *list, once; false when none is
// left.
func (g *gen) takeReview(list *[]review) (review, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(*list) == 0 {
		return review{}, false
	}
	r := (*list)[0]
	*list = (*list)[1:]
	return r, true
}

type session struct {
	login  string
	cookie string
	addr   string // the client address it logged in from (X-Forwarded-For)
}

// addrOf is the i-th synthetic client address: the servers under test
// believe X-Forwarded-For from the load generator (JIFEN_TRUSTED_PROXIES),
// so thousands of people are thousands of clients, as on the internet, and
// each address meets the per-client limits as a person would.
func addrOf(i int) string { return fmt.Sprintf("10.%d.%d.%d", 1+i/65536%200, i/256%256, 1+i%254) }

// anon is a random client address for a request without a session.
func (g *gen) anon() string { return addrOf(100000 + g.intn(50000)) }

type opSession struct {
	session
	waiting []int64
	other   int64 // an application of another employer (someone else's id)
}

type staffSession struct {
	session
	district string
	cases    []int64
	others   []int64 // cases of another district
}

func (g *gen) next() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.turn++
	return g.turn
}

func (g *gen) intn(n int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rnd.IntN(n)
}

func pick[T any](g *gen, s []T) T { return s[g.intn(len(s))] }

func (g *gen) get(t *vegeta.Target, base, path string, s session) {
	t.Method, t.URL, t.Body = http.MethodGet, base+path, nil
	t.Header = http.Header{"Accept": {"text/html,application/json"}}
	g.as(t, s)
}

// as sends t as s: its cookie and its client address (a random one for a
// request without a session).
func (g *gen) as(t *vegeta.Target, s session) {
	if s.cookie != "" {
		t.Header.Set("Cookie", s.cookie)
	}
	addr := s.addr
	if addr == "" {
		addr = g.anon()
	}
	t.Header.Set("X-Forwarded-For", addr)
}

func (g *gen) send(t *vegeta.Target, method, base, path string, s session, body any) {
	var b []byte
	switch v := body.(type) {
	case []byte:
		b = v
	default:
		b, _ = json.Marshal(v)
	}
	t.Method, t.URL, t.Body = method, base+path, b
	t.Header = http.Header{"Content-Type": {"application/json"}}
	g.as(t, s)
}

// Mix is the workload: its rates at scale 1 add up to the procurement's
// 100 requests per second from the internet and 55 from the government
// network (docs/loadtest.md gives the reasons for each weight).
func Mix() []Op {
	ok := []int{http.StatusOK}
	return []Op{
		// Internet: 100/s.
		{Name: "login", Title: "登录（口令）", Side: "internet", Kind: Login, Rate: 2, Expect: ok,
			target: func(g *gen, t *vegeta.Target) {
				g.send(t, http.MethodPost, g.internet, "/api/v1/session", session{}, map[string]string{"login": pick(g, g.filed).login, "password": g.st.Password})
			}},
		{Name: "applicant.home", Title: "申请人首页", Side: "internet", Kind: Single, Rate: 12, Expect: ok,
			target: func(g *gen, t *vegeta.Target) { g.get(t, g.internet, "/me", pick(g, g.drafts)) }},
		{Name: "applicant.statement", Title: "积分告知（初核结果）", Side: "internet", Kind: Single, Rate: 8, Expect: ok,
			target: func(g *gen, t *vegeta.Target) { g.get(t, g.internet, "/me", pick(g, g.filed)) }},
		{Name: "applicant.section", Title: "填报页面", Side: "internet", Kind: Single, Rate: 8, Expect: ok,
			target: func(g *gen, t *vegeta.Target) {
				g.get(t, g.internet, "/me/application/"+pick(g, []string{"insurance", "housing", "education", "tax"}), pick(g, g.drafts))
			}},
		{Name: "applicant.save", Title: "保存草稿", Side: "internet", Kind: Single, Rate: 6, Expect: ok,
			target: func(g *gen, t *vegeta.Target) {
				// In turn, not at random: one person does not save the same
				// draft twice at the same moment (that is a 409, rightly).
				s := g.drafts[g.next()%len(g.drafts)]
				g.send(t, http.MethodPut, g.internet, "/api/v1/application/declaration", s,
					map[string]any{"version": 0, "declaration": g.declarations[s.login]})
			}},
		{Name: "applicant.submit", Title: "提交单位", Side: "internet", Kind: Single, Rate: 1, Expect: ok,
			target: func(g *gen, t *vegeta.Target) {
				g.send(t, http.MethodPost, g.internet, "/api/v1/application/submit", pick(g, g.submitters), map[string]bool{"truthful": true})
			}},
		{Name: "calculator.page", Title: "积分自测页面", Side: "internet", Kind: Single, Rate: 12, Expect: ok,
			target: func(g *gen, t *vegeta.Target) { g.get(t, g.internet, "/calculator", session{}) }},
		{Name: "calculator.api", Title: "积分自测接口", Side: "internet", Kind: Single, Rate: 10, Expect: ok,
			target: func(g *gen, t *vegeta.Target) {
				g.send(t, http.MethodPost, g.internet, "/api/v1/calculator", session{}, g.calcBody)
			}},
		{Name: "publicity.list", Title: "公示名单", Side: "internet", Kind: Single, Rate: 14, Expect: ok, needs: "public_year",
			target: func(g *gen, t *vegeta.Target) {
				g.get(t, g.internet, fmt.Sprintf("/publicity/history/%d?page=%d", g.st.PublicYear, 1+g.intn(50)), session{})
			}},
		{Name: "publicity.search", Title: "公示查询", Side: "internet", Kind: Single, Rate: 8, Expect: ok, needs: "public_year",
			target: func(g *gen, t *vegeta.Target) {
				q := pick(g, []string{"王", "李", "张", "刘", "陈", "科技", "北京", "有限公司"})
				g.get(t, g.internet, fmt.Sprintf("/publicity/history/%d?q=%s", g.st.PublicYear, url.QueryEscape(q)), session{})
			}},
		{Name: "employer.list", Title: "单位申请列表", Side: "internet", Kind: Single, Rate: 12, Expect: ok,
			target: func(g *gen, t *vegeta.Target) {
				g.get(t, g.internet, "/api/v1/employer/applications?limit=50", pick(g, g.operators).session)
			}},
		{Name: "employer.file", Title: "单位确认提交", Side: "internet", Kind: Single, Rate: 1, Expect: ok,
			target: func(g *gen, t *vegeta.Target) {
				o := pick(g, g.operators)
				if len(o.waiting) == 0 {
					g.get(t, g.internet, "/api/v1/employer/applications?limit=1", o.session)
					return
				}
				g.send(t, http.MethodPost, g.internet, "/api/v1/employer/applications/"+strconv.FormatInt(pick(g, o.waiting), 10)+"/file", o.session, nil)
			}},
		{Name: "objection.lodge", Title: "对公示名单提出异议", Side: "internet", Kind: Single, Rate: 1, Expect: []int{http.StatusSeeOther},
			needs: "notice",
			target: func(g *gen, t *vegeta.Target) {
				var b bytes.Buffer
				mw := multipart.NewWriter(&b)
				_ = mw.WriteField("year", strconv.Itoa(g.notice.year))
				_ = mw.WriteField("number", pick(g, g.notice.numbers))
				_ = mw.WriteField("grounds", "压力测试：该申请人申报的居住证明与实际居住情况不符，请予核查。")
				_ = mw.Close()
				g.send(t, http.MethodPost, g.internet, "/publicity/objection", session{}, b.Bytes())
				t.Header.Set("Content-Type", mw.FormDataContentType())
			}},
		// Invalid input, 5 of the 100: bad fields, someone else's ids, an
		// expired session.
		{Name: "invalid.calculator", Title: "错误输入：积分自测", Side: "internet", Kind: Invalid, Rate: 2, Expect: []int{http.StatusBadRequest},
			target: func(g *gen, t *vegeta.Target) {
				g.send(t, http.MethodPost, g.internet, "/api/v1/calculator", session{}, []byte(`{"application_year":2026,"birth_date":"1990-13-45","social_insurance":[{"from":"x"}]}`))
			}},
		{Name: "invalid.others", Title: "错误输入：他人的申请", Side: "internet", Kind: Invalid, Rate: 2, Expect: []int{http.StatusNotFound},
			target: func(g *gen, t *vegeta.Target) {
				o := pick(g, g.operators)
				g.get(t, g.internet, "/api/v1/employer/applications/"+strconv.FormatInt(o.other, 10), o.session)
			}},
		{Name: "invalid.session", Title: "错误输入：过期会话", Side: "internet", Kind: Invalid, Rate: 1, Expect: []int{http.StatusUnauthorized},
			target: func(g *gen, t *vegeta.Target) {
				g.get(t, g.internet, "/api/v1/application", session{cookie: g.expired, addr: g.anon()})
			}},

		// Government network: 55/s.
		{Name: "office.queue", Title: "待办队列", Side: "office", Kind: Single, Rate: 12, Expect: ok,
			target: func(g *gen, t *vegeta.Target) {
				g.get(t, g.office, "/api/v1/office/queue?limit=50", pick(g, g.district).session)
			}},
		{Name: "office.queue_page", Title: "待办队列页面", Side: "office", Kind: Single, Rate: 6, Expect: ok,
			target: func(g *gen, t *vegeta.Target) { g.get(t, g.office, "/office/queue", pick(g, g.district).session) }},
		{Name: "office.case", Title: "案件查看（接口）", Side: "office", Kind: Single, Rate: 12, Expect: ok,
			target: func(g *gen, t *vegeta.Target) {
				s := pick(g, g.district)
				g.get(t, g.office, "/api/v1/office/cases/"+strconv.FormatInt(pick(g, s.cases), 10), s.session)
			}},
		{Name: "office.case_page", Title: "案件查看页面", Side: "office", Kind: Single, Rate: 8, Expect: ok,
			target: func(g *gen, t *vegeta.Target) {
				s := pick(g, g.district)
				g.get(t, g.office, "/office/cases/"+strconv.FormatInt(pick(g, s.cases), 10), s.session)
			}},
		{Name: "office.note", Title: "办理记录（备注）", Side: "office", Kind: Single, Rate: 2, Expect: []int{http.StatusCreated},
			target: func(g *gen, t *vegeta.Target) {
				s := pick(g, g.district)
				g.send(t, http.MethodPost, g.office, "/api/v1/office/cases/"+strconv.FormatInt(pick(g, s.cases), 10)+"/notes", s.session,
					map[string]string{"body": "压力测试：已核对材料"})
			}},
		{Name: "office.review_receive", Title: "接收复查申请", Side: "office", Kind: Single, Rate: 1, Expect: ok, needs: "receivable",
			take: func(g *gen, t *vegeta.Target) bool {
				r, ok := g.takeReview(&g.receivable)
				if ok {
					g.send(t, http.MethodPost, g.office, "/api/v1/office/reviews/"+strconv.FormatInt(r.id, 10)+"/receive", r.by.session, nil)
				}
				return ok
			}},
		{Name: "office.review_decide", Title: "复查决定", Side: "office", Kind: Single, Rate: 1, Expect: ok, needs: "decidable",
			take: func(g *gen, t *vegeta.Target) bool {
				r, ok := g.takeReview(&g.decidable)
				if ok {
					g.send(t, http.MethodPost, g.office, "/api/v1/office/reviews/"+strconv.FormatInt(r.id, 10)+"/decisions", r.by.session,
						map[string]any{"indicator": r.indicator, "outcome": "rejected", "reason": "压力测试：经核对，复查理由不成立", "version": r.version})
				}
				return ok
			}},
		{Name: "office.discrepancy_accept", Title: "比对差异处理（以部门记录为准）", Side: "office", Kind: Single, Rate: 1, Expect: ok,
			needs: "discrepancies",
			take: func(g *gen, t *vegeta.Target) bool {
				r, ok := g.takeReview(&g.discrepancies)
				if ok {
					g.send(t, http.MethodPost, g.office, "/api/v1/office/discrepancies/"+strconv.FormatInt(r.id, 10)+"/accept", r.by.session,
						map[string]string{"note": "压力测试：经核对，以部门记录为准"})
				}
				return ok
			}},
		{Name: "office.statistics", Title: "申报统计查询", Side: "office", Kind: Complex, Rate: 4, Expect: ok,
			target: func(g *gen, t *vegeta.Target) {
				dims := pick(g, []string{"district", "district,status", "education,age_band", "housing_kind,sex", "status"})
				g.get(t, g.office, "/api/v1/office/statistics?dims="+dims+"&measures=count,mean:total,p90:total", pick(g, g.city).session)
			}},
		{Name: "office.workload", Title: "工作量统计", Side: "office", Kind: Complex, Rate: 2, Expect: ok,
			target: func(g *gen, t *vegeta.Target) { g.get(t, g.office, "/api/v1/office/workload", pick(g, g.city).session) }},
		{Name: "office.home", Title: "工作台首页", Side: "office", Kind: Single, Rate: 2, Expect: ok,
			target: func(g *gen, t *vegeta.Target) { g.get(t, g.office, "/office/", pick(g, g.district).session) }},
		{Name: "office.monitor", Title: "运行监控页面", Side: "office", Kind: Single, Rate: 1, Expect: ok,
			target: func(g *gen, t *vegeta.Target) { g.get(t, g.office, "/office/ops/monitor", pick(g, g.admins).session) }},
		{Name: "invalid.office_case", Title: "错误输入：他区案件", Side: "office", Kind: Invalid, Rate: 2, Expect: []int{http.StatusNotFound},
			target: func(g *gen, t *vegeta.Target) {
				s := pick(g, g.district)
				g.get(t, g.office, "/api/v1/office/cases/"+strconv.FormatInt(pick(g, s.others), 10), s.session)
			}},
		{Name: "invalid.statistics", Title: "错误输入：统计维度", Side: "office", Kind: Invalid, Rate: 1, Expect: []int{http.StatusBadRequest},
			target: func(g *gen, t *vegeta.Target) {
				g.get(t, g.office, "/api/v1/office/statistics?dims=district,nonsense", pick(g, g.city).session)
			}},
	}
}
