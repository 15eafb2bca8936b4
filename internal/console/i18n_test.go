package console

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCatalogueComplete(t *testing.T) {
	for id, m := range catalogue {
		if m[0] == "" || m[1] == "" {
			t.Errorf("%s: missing a language: %q", id, m)
		}
	}
	// Every nav item has a label in both languages.
	for _, n := range (&Console{}).navFor(nil) {
		if _, ok := catalogue["nav."+n.ID]; !ok {
			t.Errorf("nav item %s has no label", n.ID)
		}
	}
}

func TestParseAcceptLanguage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", LangEN},
		{"zh-CN,zh;q=0.9,en;q=0.8", LangZH},
		{"en-US,en;q=0.9,zh-CN;q=0.8", LangEN},
		{"fr-FR, zh-TW;q=0.5", LangZH},
		{"en;q=0.2, zh;q=0.7", LangZH},
		{"zh;q=0", LangEN},
		{"de, fr", LangEN},
		{"ZH-hans", LangZH},
		{"zh;q=bogus, en", LangEN},
	}
	for _, tt := range tests {
		if got := ParseAcceptLanguage(tt.in); got != tt.want {
			t.Errorf("ParseAcceptLanguage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParseAcceptLanguage(f *testing.F) {
	for _, s := range []string{"zh-CN,zh;q=0.9", "en;q=0.5;;q=", ",,;q=1e9", "zh;q=-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := ParseAcceptLanguage(s); got != LangEN && got != LangZH {
			t.Fatalf("ParseAcceptLanguage(%q) = %q", s, got)
		}
	})
}

func TestFormatting(t *testing.T) {
	at := time.Date(2026, 11, 29, 13, 4, 0, 0, time.UTC)
	got := []string{
		FormatInt(0), FormatInt(1234567), FormatInt(-1000),
		FormatCompact(LangEN, 12345), FormatCompact(LangZH, 12345), FormatCompact(LangZH, 320_000_000), FormatCompact(LangEN, 999),
		FormatMoney(LangEN, 1_234_560_000, "USD"), FormatMoney(LangZH, 1_234_560_000, "USD"),
		FormatMoney(LangEN, 2_500_000, "CNY"), FormatMoney(LangZH, 2_500_000, "CNY"),
		FormatMoney(LangEN, 14, "USD"), FormatMoney(LangEN, 0, "USD"), FormatMoney(LangEN, 1_999_999, "USD"), FormatMoney(LangEN, -5_000_000, "CNY"),
		FormatTime(LangEN, at), FormatTime(LangZH, at), FormatDate(LangZH, at), FormatTime(LangEN, time.Time{}),
		FormatPercent(0.125),
	}
	want := []string{
		"0", "1,234,567", "-1,000",
		"12.3k", "1.2万", "3.2亿", "999",
		"$1,234.56", "US$1,234.56",
		"CN¥2.50", "¥2.50",
		"$0.000014", "$0.00", "$2.00", "-CN¥5.00",
		"Nov 29, 2026 13:04", "2026年11月29日 13:04", "2026年11月29日", "—",
		"12.5%",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("formatting (-want +got):\n%s", diff)
	}
}
