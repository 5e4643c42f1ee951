package account

import (
	"context"
	"fmt"
	"strings"

	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/mail"
)

// errNoMailbox refuses an action whose result only the account's owner may
// see when there is no way to reach the owner.
var errNoMailbox = apperr.New(apperr.Conflict, "该账号未登记电子邮箱，新密码无法只交给本人：请先为该账号登记电子邮箱")

// mailOwner queues a message to the account's owner in ctx's transaction.
func (s *Service) mailOwner(ctx context.Context, u *User, subject, body, category, key string) error {
	if s.outbox == nil || strings.TrimSpace(u.Email) == "" {
		return errNoMailbox
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s，您好：\n\n%s\n本邮件由系统自动发送，请勿回复。如非本人操作，请立即联系咨询电话。\n", u.DisplayName, body)
	_, err := s.outbox.Enqueue(ctx, mail.Message{To: u.Email, ToName: u.DisplayName, Subject: "【北京市积分落户】" + subject,
		Text: b.String(), Category: category, Ref: fmt.Sprintf("user:%d", u.ID), IdempotencyKey: key})
	return err
}

// TellRegisteredAgain tells the holder of an applicant account that someone
// tried to register another account with their ID number. Registration
// answers that attempt exactly like a new registration, so it reveals to
// nobody which ID numbers have accounts; the holder learns of it here. An
// account without an e-mail address is told nothing (the attempt is in the
// audit trail all the same). It writes in ctx's transaction.
func (s *Service) TellRegisteredAgain(ctx context.Context, userID int64, attemptLogin string) error {
	u, err := s.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	if err := s.audit.Record(ctx, audit.Entry{Action: "person.register_duplicate", ObjectType: "user", ObjectID: fmt.Sprint(u.ID),
		Outcome: audit.Denied, Reason: "login tried=" + attemptLogin}); err != nil {
		return err
	}
	body := "有人在北京市积分落户网上申报系统使用您的身份证号申请注册新账号（登录名 " + attemptLogin + "）。" +
		"一个身份证号只能有一个账号，系统未创建新账号。\n\n" +
		"您的登录名是 " + u.Login + "。如果是您本人忘记了已有账号，请用该登录名登录；忘记密码请联系咨询电话。" +
		"如果不是您本人操作，您的身份信息可能已被他人掌握，请留意账号安全。\n"
	// At most one such mail a day: repeated attempts must not flood the holder.
	key := fmt.Sprintf("register-again:%d:%s", u.ID, clock.BeijingDay(s.clock.Now()).Format("2006-01-02"))
	err = s.mailOwner(ctx, u, "有人使用您的身份证号申请注册", body, "account.register_duplicate", key)
	if err == errNoMailbox || apperr.Is(err, apperr.Invalid) {
		return nil
	}
	return err
}
