package application_test

import (
	"jifen/internal/account"
	"jifen/internal/casetest"
	"jifen/internal/person"
)

func personReg(id, login string) person.Registration {
	return person.Registration{IDNumber: id, Name: "赵六", Login: login, Phone: "13700137000", Email: login + "@example.cn",
		Password: casetest.Password, PrivacyVersion: account.PrivacyNoticeVersion}
}
