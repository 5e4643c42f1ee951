package mail

import "regexp"

// secretPattern matches what a one-time secret in a message looks like: a
// run of 20 or more URL-safe characters (an invitation's token is 32).
// Chinese text, e-mail addresses, dates and the 19-character 单位注册码
// never form such a run. A new kind of one-time link must use a token of
// this shape so that Masked hides it.
var secretPattern = regexp.MustCompile(`[A-Za-z0-9_-]{20,}`)

// labelledSecret matches a secret shorter than a token that a message names
// with a label — a reset password after 一次性密码：, a code after 验证码： —
// whatever its characters; the label stays, the value is masked.
var labelledSecret = regexp.MustCompile(`(一次性密码|临时密码|验证码|确认码)([：:]\s*)[^\s<]+`)

// SecretMask is what Masked shows in place of a secret.
const SecretMask = "******（已隐藏）"

// Masked returns m with every one-time secret (an invitation's token, any
// one-time link) in its subject and bodies replaced by SecretMask: the
// office reads the mail log, and must not be able to use what it reads.
func Masked(m Message) Message {
	m.Subject, m.Text, m.HTML = maskSecrets(m.Subject), maskSecrets(m.Text), maskSecrets(m.HTML)
	return m
}

func maskSecrets(s string) string {
	s = labelledSecret.ReplaceAllString(s, "${1}${2}"+SecretMask)
	return secretPattern.ReplaceAllLiteralString(s, SecretMask)
}
