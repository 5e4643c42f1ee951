package agency

import (
	"slices"
	"testing"
	"time"

	"jifen/internal/rules"
)

func TestAgenciesInTheOrderOfTheContract(t *testing.T) {
	want := []string{PublicSecurity, SocialInsurance, RealEstate, Housing, Education, Tax, Science, Honors, Market}
	if got := Codes(); !slices.Equal(got, want) {
		t.Fatalf("codes %v, want %v", got, want)
	}
	if got := PersonAgencies(); !slices.Equal(got, want[:8]) {
		t.Fatalf("person agencies %v, want all but the market regulator", got)
	}
	for _, a := range All() {
		if a.Name == "" || a.Name == a.Code || Name(a.Code) != a.Name {
			t.Fatalf("agency %s has no Chinese name (%q)", a.Code, a.Name)
		}
	}
	if Name("nasa") != "nasa" || Known("nasa") || Index("nasa") != -1 || !Known(Tax) || Index(Market) != 8 {
		t.Fatal("unknown agencies are told apart from known ones")
	}
}

func TestEveryCheckItemIsVerifiedBySomeAgency(t *testing.T) {
	cases := map[string][]string{
		rules.CodeEligibility:       {PublicSecurity},
		rules.CodeAge:               {PublicSecurity},
		rules.CodeLawRecord:         {PublicSecurity, Tax},
		rules.CodeEmployment:        {SocialInsurance},
		rules.CodeWorkResidenceArea: {SocialInsurance},
		rules.CodeHousing:           {RealEstate, Housing},
		rules.CodeEducation:         {Education},
		rules.CodeStudyDeduction:    {Education},
		rules.CodeTax:               {Tax},
		rules.CodeInnovation:        {Science},
		rules.CodeHonors:            {Honors},
	}
	for item, want := range cases {
		if got := ItemAgencies(item); !slices.Equal(got, want) {
			t.Errorf("%s is verified by %v, want %v", item, got, want)
		}
	}
	if got := ItemAgencies("no_such_item"); len(got) != 0 {
		t.Fatalf("an unknown item has agencies %v", got)
	}
	// All hands out copies: a caller cannot change the contract.
	All()[0].Items[0] = "changed"
	if ItemAgencies(rules.CodeEligibility) == nil {
		t.Fatal("All shares its item lists with the contract")
	}
}

func TestSignatureBindsMethodPathTimeAndBody(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	body := []byte(`{"request_id":"r1","subjects":["110101199003071234"]}`)
	sig := Signature(key, "POST", QueryPath(Tax), 1_700_000_000, body)
	if len(sig) != 64 || !Verify(key, "POST", "/v1/tax/query", 1_700_000_000, body, sig) {
		t.Fatalf("signature %q does not verify", sig)
	}
	for name, ok := range map[string]bool{
		"other key":    Verify([]byte("another key"), "POST", "/v1/tax/query", 1_700_000_000, body, sig),
		"other method": Verify(key, "GET", "/v1/tax/query", 1_700_000_000, body, sig),
		"other path":   Verify(key, "POST", "/v1/education/query", 1_700_000_000, body, sig),
		"other time":   Verify(key, "POST", "/v1/tax/query", 1_700_000_001, body, sig),
		"other body":   Verify(key, "POST", "/v1/tax/query", 1_700_000_000, append(body, ' '), sig),
	} {
		if ok {
			t.Errorf("a signature verifies with %s", name)
		}
	}
}

func TestReplayWindow(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for header, want := range map[string]bool{
		"1700000000": true, "1699999700": true, "1700000300": true, // ±5 minutes
		"1699999699": false, "1700000301": false, "": false, "soon": false,
	} {
		if _, fresh := Fresh(header, now); fresh != want {
			t.Errorf("timestamp %q fresh = %v, want %v", header, fresh, want)
		}
	}
}
