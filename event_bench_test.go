package inviter_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/inviter/inviter"
)

// identityCreatedBody returns an Identity Created payload as ISC sends it,
// with n identity-profile attributes besides the usual ones.
func identityCreatedBody(n int) []byte {
	var attrs strings.Builder
	for i := range n {
		fmt.Fprintf(&attrs, `,"custom%d":"value %d"`, i, i)
	}
	return fmt.Appendf(nil, `{"identity":{"type":"IDENTITY","id":"2c91808568c529c60168cca6f90c1313","name":"William Wilson"},`+
		`"attributes":{"firstname":"William","lastname":"Wilson","displayName":"William Wilson","email":"william.wilson@example.com",`+
		`"department":"Engineering","cloudLifecycleState":"active","startDate":"2026-04-01T00:00:00Z","manager":null,"isManager":false%s}}`, attrs.String())
}

// BenchmarkParseIdentityCreated measures decoding and validating one
// webhook payload, the CPU the webhook spends on each delivery before the
// database: a typical profile (9 attributes) and a wide one (100 more).
func BenchmarkParseIdentityCreated(b *testing.B) {
	for _, extra := range []int{0, 100} {
		body := identityCreatedBody(extra)
		b.Run(fmt.Sprintf("attributes=%d", 9+extra), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := inviter.ParseIdentityCreated(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseIdentityCreatedInvalid measures the rejection of a payload
// without an identity id (the 400 path).
func BenchmarkParseIdentityCreatedInvalid(b *testing.B) {
	body := []byte(`{"identity":{"type":"IDENTITY","name":"No Id"},"attributes":{"email":"x@example.com"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := inviter.ParseIdentityCreated(body); err == nil {
			b.Fatal("want an error")
		}
	}
}
