package portal

import (
	"context"
	"net/http"
	"time"

	"jifen/internal/account"
	"jifen/internal/application"
	"jifen/internal/employer"
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/round"
)

// caseStatus is the panel at the top of every page of a case: where it
// stands, what happens next, who holds it and by when. The status is a word
// as well as a colour.
type caseStatus struct {
	Title       string // the round, e.g. 2026年度积分落户
	Status      string
	Badge       string // ok | warn | err | muted
	Next        string
	Who         string
	When        string // what the time is: 个人填报截止, 数据比对开始
	At          time.Time
	ReasonLabel string // 退回理由, 拒绝理由
	Reason      string
}

// at sets the time of the next step: the opening or the closing of a
// window of the round.
func (s *caseStatus) at(rd *round.Round, k round.Kind, closing bool) {
	w, ok := rd.Window(k)
	if !ok {
		return
	}
	if closing {
		s.When, s.At = k.Name()+"截止", w.ClosesAt
	} else {
		s.When, s.At = k.Name()+"开始", w.OpensAt
	}
}

// caseData is an applicant's case in the current round, as the pages need
// it: the round (nil when there is none), the application (nil until
// opened), and the links to employers. The links say where the case stands
// only until the application is opened, so they are read then, or by a page
// that lists them (linksOf).
type caseData struct {
	round     *round.Round
	app       *application.Application
	links     []*person.Link
	linksRead bool
}

func (p *Portal) loadCase(r *http.Request, c *applicantCtx) (*caseData, error) {
	d := &caseData{}
	if c.roundID == 0 {
		return d, nil
	}
	ctx := r.Context()
	var err error
	if d.round, err = p.sh.Rounds.Get(ctx, c.roundID); err != nil {
		return nil, err
	}
	d.app, err = p.svc.Applications.ForPerson(ctx, c.person.ID, c.roundID)
	if apperr.Is(err, apperr.NotFound) {
		d.app, err = nil, nil
	}
	if err != nil || d.app != nil {
		return d, err
	}
	_, err = p.linksOf(ctx, c, d)
	return d, err
}

// linksOf returns the case's links to employers, reading them once.
func (p *Portal) linksOf(ctx context.Context, c *applicantCtx, d *caseData) ([]*person.Link, error) {
	if d.linksRead || c.roundID == 0 {
		return d.links, nil
	}
	var err error
	if d.links, err = p.svc.Persons.LinksOfPerson(ctx, c.person.ID, c.roundID); err != nil {
		return nil, err
	}
	d.linksRead = true
	return d.links, nil
}

// link is the link that matters now: the confirmed one, else the newest
// pending one, else the newest of any other.
func (d *caseData) link() *person.Link {
	var pending *person.Link
	for _, l := range d.links { // newest first
		if l.Status == person.LinkConfirmed {
			return l
		}
		if l.Status == person.LinkPending && pending == nil {
			pending = l
		}
	}
	if pending != nil || len(d.links) == 0 {
		return pending
	}
	return d.links[0]
}

// status says where the applicant's case stands and what comes next.
func (d *caseData) status() caseStatus {
	rd := d.round
	if rd == nil {
		return caseStatus{Status: "尚未开始", Badge: "muted", Next: "本年度积分落户申报尚未开始。开始后，您可以在这里关联单位并填报。"}
	}
	s := caseStatus{Title: rd.Title, Who: "申请人本人"}
	if d.app == nil {
		l := d.link()
		switch {
		case l == nil:
			s.Status, s.Badge, s.Next = "未关联单位", "muted", "向本单位经办人索取单位注册码，填写后关联单位。"
		case l.Status == person.LinkConfirmed:
			s.Status, s.Badge, s.Next = "已关联单位", "ok", "开始填报各项积分指标。"
		case l.Status == person.LinkPending:
			s.Status, s.Badge = "待单位确认", "warn"
			s.Next, s.Who = "等待单位确认您是本单位职工；如长时间未确认，请联系单位经办人。", l.EmployerName
		default:
			s.Status, s.Badge, s.Next = person.LinkStatusName(l.Status), "err", "请核对单位注册码，或联系单位经办人后重新关联。"
			s.ReasonLabel, s.Reason = "单位说明", l.Reason
		}
		s.at(rd, round.Application, true)
		return s
	}
	a := d.app
	s.Status = application.StatusName(a.Status)
	switch a.Status {
	case application.Draft:
		s.Badge, s.Next = "warn", "填写各项积分指标，确认无误后提交单位。"
		s.at(rd, round.Application, true)
	case application.Returned:
		s.Badge, s.Next = "err", "请按单位的退回理由修改，然后重新提交单位。"
		s.ReasonLabel, s.Reason = "退回理由", a.ReturnReason
		s.at(rd, round.Application, true)
	case application.WithEmployer:
		s.Badge, s.Next, s.Who = "muted", "等待单位审核后确认提交；单位也可能退回给您修改。", a.EmployerName
		s.at(rd, round.EmployerSubmission, true)
	case application.Submitted:
		s.Badge, s.Next, s.Who = "ok", "单位已提交，等待各部门数据比对，您无需操作。", "审核部门"
		s.at(rd, round.Crosscheck, false)
	case application.Checking:
		s.Badge, s.Next, s.Who = "muted", "各部门正在比对您的申报信息，您无需操作。", "审核部门"
		s.at(rd, round.ResultViewing, false)
	case application.FirstResult:
		s.Badge, s.Next = "ok", "查看初核结果；如有异议，可在复查期内申请复查。"
		s.at(rd, round.Review, true)
	case application.ReviewRequested:
		s.Badge, s.Next, s.Who = "warn", "复查申请已提交，由单位到区服务窗口提交证明材料。", a.EmployerName
		s.at(rd, round.Review, true)
	case application.Final:
		s.Badge, s.Next, s.Who = "ok", "审核已完成，等待公布积分和落户分值。", "审核部门"
		s.at(rd, round.Publication, false)
	default:
		s.Badge, s.Next, s.Who = "ok", "积分和排名已公布。", "审核部门"
	}
	return s
}

// employerStatus says where the employer's registration stands and what
// its operator does next.
func (p *Portal) employerStatus(r *http.Request, c *operatorCtx) caseStatus {
	e := c.employer
	s := caseStatus{Status: employer.StatusName(e.Status), Who: "单位经办人"}
	switch e.Status {
	case employer.Pending:
		s.Badge, s.Next, s.Who = "warn", "等待区人力社保局核验单位信息；核验通过后，本页将显示单位注册码。", "区人力社保局"
	case employer.Rejected:
		s.Badge, s.Next = "err", "单位信息未通过核验。请按说明联系所在区人力社保局。"
		s.ReasonLabel, s.Reason = "不予核验理由", e.RejectReason
	default:
		s.Badge, s.Next = "ok", "将单位注册码告知本单位申请人，及时确认关联申请，审核申请人提交的申请后确认提交。"
	}
	if rd, err := p.currentRound(r.Context(), c.roundID); err == nil {
		s.Title = rd.Title
		if e.Status == employer.Verified {
			s.at(rd, round.EmployerSubmission, true)
		}
	}
	return s
}

// currentRound is the round of id, or round.ErrNoRound when id is 0.
func (p *Portal) currentRound(ctx context.Context, id int64) (*round.Round, error) {
	if id == 0 {
		return nil, round.ErrNoRound
	}
	return p.sh.Rounds.Get(ctx, id)
}

// eventView is one row of a timeline.
type eventView struct {
	At     time.Time
	Status string
	Actor  string
	Reason string
}

func eventViews(es []application.Event) []eventView {
	out := make([]eventView, 0, len(es))
	for _, e := range es {
		actor := account.RoleName(account.Role(e.ActorRole))
		if e.ActorRole == "" {
			actor = "系统"
		}
		out = append(out, eventView{At: e.At, Status: application.StatusName(e.To), Actor: actor, Reason: e.Reason})
	}
	return out
}

// statusBadge is the badge colour of an application status in lists.
func statusBadge(s application.Status) string {
	switch s {
	case application.WithEmployer, application.ReviewRequested:
		return "warn"
	case application.Returned:
		return "err"
	case application.Draft, application.Checking:
		return "muted"
	}
	return "ok"
}
