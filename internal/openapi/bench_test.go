package openapi

import "testing"

func benchmarkParse(b *testing.B, file string) {
	data := readSpec(b, file)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, ""); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePetstore3(b *testing.B) { benchmarkParse(b, "public/swagger-api__petstore3.yaml") }
func BenchmarkParseOpenAI(b *testing.B)    { benchmarkParse(b, "public/openai__openai-api.yaml") }
func BenchmarkParseTwilio(b *testing.B)    { benchmarkParse(b, "public/twilio__api_v2010.json") }

func BenchmarkBuildRequest(b *testing.B) {
	d := mustParse(b, requestDoc, "")
	op, _ := d.Operation("getItem")
	args := map[string]any{"id": "42", "limit": 10, "tags": []any{"a", "b"}, "X-Request-Id": "r"}
	if _, err := op.BuildRequest(b.Context(), "", args, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := op.BuildRequest(b.Context(), "", args, nil); err != nil {
			b.Fatal(err)
		}
	}
}
