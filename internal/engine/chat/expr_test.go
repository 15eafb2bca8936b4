package chat

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestExpressions checks language features one by one. The expected
// strings are Jinja2's output for the same snippets (trim_blocks and
// lstrip_blocks on, as Hugging Face renders chat templates).
func TestExpressions(t *testing.T) {
	tests := []struct{ src, want string }{
		{"{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 7 / 2 }}|{{ 1.0 }}|{{ 1e20 }}|{{ 0.1 + 0.2 }}", "7|9|3|-4|1|2|1024|3.5|1.0|1e+20|0.30000000000000004"},
		{"{{ 'a' ~ 1 ~ none ~ true }}|{{ 'ab' * 3 }}|{{ [1, 2] + [3] }}|{{ 'x' in 'xyz' }}|{{ 3 not in [1, 2] }}|{{ 'k' in {'k': 1} }}", "a1NoneTrue|ababab|[1, 2, 3]|True|True|True"},
		{"{{ [1, 'a', none, true, 1.5, {'k': [2]}] }}|{{ (1,) }}|{{ ('a', 'b') }}|{{ \"it's\" }}|{{ ['it\\'s', 'q\"'] }}", "[1, 'a', None, True, 1.5, {'k': [2]}]|(1,)|('a', 'b')|it's|[\"it's\", 'q\"']"},
		{"{{ 'Hello'[1:3] }}|{{ 'Hello'[::-1] }}|{{ [1,2,3,4,5][1:] }}|{{ [1,2,3,4,5][-2:] }}|{{ [1,2,3,4,5][:-1] }}|{{ [1,2,3,4,5][::2] }}|{{ [1,2,3][5:] }}|{{ 'abc'[-1] }}", "el|olleH|[2, 3, 4, 5]|[4, 5]|[1, 2, 3, 4]|[1, 3, 5]|[]|c"},
		{"{{ '  x y  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ ' a '.lstrip() }}|{{ ' a '.rstrip() }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'Hi'.upper() }}{{ 'Hi'.lower() }}|{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'aXbX'.replace('X', '-') }}", "x y|hi|a | a|True|True|['a', 'b', '', 'c']|['a', 'b']|['a', 'b c']|HIhi|Hello World|Hello|a-b-"},
		{"{{ '  t  ' | trim }}|{{ [3, 1, 2] | length }}|{{ 'héllo' | length }}|{{ {'a': 1} | length }}|{{ [1, 2] | first }}{{ [1, 2] | last }}|{{ ['a', 'b'] | join(', ') }}|{{ x | default('d') }}|{{ '' | default('e', true) }}|{{ 'S' | lower }}{{ 's' | upper }}|{{ [1, [2]] | tojson }}|{{ {'b': 1, 'a': 'é\\n\"'} | tojson }}|{{ {'a': [1, {}], 'b': []} | tojson(indent=2) }}", "t|3|5|1|12|a, b|d|e|sS|[1, [2]]|{\"b\": 1, \"a\": \"é\\n\\\"\"}|{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": []\n}"},
		{"{{ [{'n': 'a', 'v': 1}, {'n': 'b'}] | map(attribute='n') | list }}|{{ [{'n': 'a', 'v': 1}, {'n': 'b'}] | selectattr('v', 'defined') | map(attribute='n') | join }}|{{ [1, 0, 2] | select | list }}|{{ [1, 0, 2] | reject | list }}|{{ [{'t': 'x'}, {'t': 'y'}] | rejectattr('t', 'equalto', 'x') | list }}|{{ {'b': 2, 'a': 1} | items | list }}|{{ {'b': 2, 'a': 1} | dictsort }}|{{ [3, 1, 2] | sort }}|{{ [1, 1, 2] | unique | list }}|{{ 'ab' | reverse }}|{{ 3.14159 | round(2) }}|{{ '42' | int + 1 }}|{{ 'a\\nb' | indent(2, first=true) }}", "['a', 'b']|a|[1, 2]|[0]|[{'t': 'y'}]|[('b', 2), ('a', 1)]|[('a', 1), ('b', 2)]|[1, 2, 3]|[1, 2]|ba|3.14|43|  a\n  b"},
		{"{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }}{% if not loop.last %},{% endif %}{% endfor %}|{% for x in [1, 2, 3, 4] if x is even %}{{ loop.index }}:{{ x }}/{{ loop.length }} {% endfor %}|{% for x in [] %}a{% else %}empty{% endfor %}|{% for x in range(10) %}{% if x == 3 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}|{% for x in 'ab' %}{{ loop.revindex }}{{ loop.cycle('o', 'e') }}{% endfor %}|{% for x in [1,2,3] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}", "a=1,b=2|1:2/2 2:4/2 |empty|0124|2o1e|-2;1-3;2-;"},
		{"{% set ns = namespace(found=false, n=0) %}{% for m in ['a', 'b'] %}{% set ns.n = ns.n + 1 %}{% if m == 'b' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }} {{ ns.n }}|{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set x %}  block {{ 1 }} {% endset %}[{{ x }}]|{% set y | trim %}  tr  {% endset %}[{{ y }}]", "True 2|12|[  block 1 ]|[tr]"},
		{"{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} {{ greet('Al', punct='?') }} {{ greet(name='Z') }}", "Hi Bob! Hi Al? Hi Z!"},
		{"{{ none is none }}|{{ 1 is number }}|{{ 'a' is string }}|{{ [1] is iterable }}|{{ {} is mapping }}|{{ x is defined }}|{{ x is not defined }}|{{ 3 is odd }}|{{ 4 is divisibleby 2 }}|{{ 1 is integer }}|{{ 1.5 is float }}|{{ true is boolean }}|{{ 'ab' is lower }}|{{ 2 is gt 1 }}", "True|True|True|True|True|False|True|True|True|True|True|True|True|True"},
		{"{{ 'yes' if 1 > 0 else 'no' }}|{{ 'yes' if 0 }}|{{ 1 and 'b' }}|{{ 0 or 'c' }}|{{ not 0 }}|{{ -(3) }}|{{ 1 < 2 < 3 }}|{{ 'a' < 'b' }}|{{ 1 == 1.0 }}|{{ [1, 2] == [1, 2] }}|{{ {'a': 1}.get('a') }}{{ {'a': 1}.get('z', 9) }}|{{ {'a': 1}['a'] }}|{{ {'a': {'b': 'c'}}.a.b }}|{{ [1,2].0 }}", "yes||b|c|True|-3|True|True|True|True|19|1|c|1"},
		{"  {% if true %}\n    kept\n  {% endif %}\n  {%- if true %} dash {% endif -%}  \n|{# comment #}\n{{ 'x' -}}   \n  y|{%+ if true %}z{% endif %}|{% raw %}{{ not }}{% endraw %}", "    kept\n dash |xy|z|{{ not }}"},
		{"{{ \"a\\tb\\\\n\" }}|{{ 'u:\\u00e9' }}|{{ 'x' 'y' }}|{{ 1_000 }}", "a\tb\\n|u:é|xy|1000"},
	}
	for _, tc := range tests {
		tmpl, err := Parse(tc.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.src, err)
			continue
		}
		got, err := tmpl.Render(nil, Options{})
		if err != nil {
			t.Errorf("Render(%q): %v", tc.src, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Render(%q) (-jinja2 +got):\n%s", tc.src, diff)
		}
	}
}

func TestErrors(t *testing.T) {
	var syntax *SyntaxError
	var render *RenderError
	var raised *TemplateError
	tests := []struct {
		src     string
		target  any
		wantMsg string
	}{
		{"{% extends 'base' %}", &syntax, `unsupported tag "extends"`},
		{"{{ x | frobnicate }}", &syntax, `unsupported filter "frobnicate"`},
		{"{{ x is frob }}", &syntax, `unsupported test "frob"`},
		{"{% for x in y %}", &syntax, `expected {% endfor %}`},
		{"{% if x %}a{% endfor %}", &syntax, `expected {% endif %}`},
		{"{{ 'a' ", &syntax, `unclosed tag`},
		{"{{ 'a }}", &syntax, `unterminated string`},
		{"{{ a $ b }}", &syntax, `unexpected character`},
		{"{% for x in y recursive %}{% endfor %}", &syntax, `recursive`},
		{"{{ 'a'.frob() }}", &render, `unsupported method "frob" on str`},
		{"{{ foo() }}", &render, `unsupported function "foo"`},
		{"{{ 1 + 'a' }}", &render, `unsupported operand types for +: int and str`},
		{"{% for x in 3 %}{% endfor %}", &render, `cannot loop over int`},
		{"{{ raise_exception('roles must alternate') }}", &raised, `roles must alternate`},
		{"{{ 'x' * 100000000 }}", &render, `longer than`},
		{"{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", &render, `steps`},
		{"{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", &render, `nested too deeply`},
		{"{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", &render, `longer than`},
	}
	for _, tc := range tests {
		_, err := Render(tc.src, []Message{{Role: "user", Content: "hi"}}, Options{MaxSteps: 200_000, MaxOutput: 1 << 20})
		if err == nil {
			t.Errorf("Render(%q) succeeded, want error containing %q", tc.src, tc.wantMsg)
			continue
		}
		if !errors.As(err, tc.target) {
			t.Errorf("Render(%q) error %v (%T), want %T", tc.src, err, err, tc.target)
		}
		if !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("Render(%q) error %q, want it to contain %q", tc.src, err, tc.wantMsg)
		}
	}
}

func TestChatMLFallback(t *testing.T) {
	msgs := []Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}}
	got, err := Render("", msgs, Options{AddGenerationPrompt: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ChatML fallback (-want +got):\n%s", diff)
	}
}

func TestOptions(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC) }
	tests := []struct {
		name, src string
		opts      Options
		want      string
	}{
		{"tools map keys sorted", "{{ tools | tojson }}", Options{Tools: []map[string]any{{"type": "function", "function": map[string]any{"name": "f", "parameters": map[string]any{"b": 1, "a": []any{true, nil, 2.5}}}}}},
			`[{"function": {"name": "f", "parameters": {"a": [true, null, 2.5], "b": 1}}, "type": "function"}]`},
		{"tools JSON keeps order", "{{ tools[0] | tojson }}", Options{ToolsJSON: []byte(`[{"type":"function","function":{"name":"f","z":1,"a":2}}]`)},
			`{"type": "function", "function": {"name": "f", "z": 1, "a": 2}}`},
		{"no tools is none", "{{ tools is none }}", Options{}, "True"},
		{"bos and eos", "{{ bos_token }}x{{ eos_token }}", Options{BOSToken: "<s>", EOSToken: "</s>"}, "<s>x</s>"},
		{"strftime_now", "{{ strftime_now('%d %b %Y, %A %H:%M') }}", Options{Now: now}, "29 Nov 2026, Sunday 08:00"},
		{"extra variables", "{{ enable_thinking }} {{ n + 1 }}", Options{Extra: map[string]any{"enable_thinking": false, "n": 41}}, "False 42"},
		{"generation prompt", "{% if add_generation_prompt %}go{% endif %}", Options{AddGenerationPrompt: true}, "go"},
	}
	for _, tc := range tests {
		got, err := Render(tc.src, nil, tc.opts)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestMessageFields(t *testing.T) {
	src := "{% for m in messages %}{{ m.role }}:{{ m.content is none }}:{{ m.tool_calls is defined }}" +
		"{% for c in m.tool_calls %}[{{ c.id }} {{ c.type }} {{ c.function.name }} {{ c.function.arguments | tojson }}]{% endfor %}" +
		"{{ m.tool_call_id }}{{ m.name }};{% endfor %}"
	msgs := []Message{
		{Role: "user", Content: "q"},
		{Role: "assistant", ToolCalls: []ToolCall{
			{ID: "c1", Function: FunctionCall{Name: "f", Arguments: `{"b": 1, "a": "x"}`}},
			{ID: "c2", Type: "function", Function: FunctionCall{Name: "g", Arguments: `not json`}},
		}},
		{Role: "tool", Content: "r", ToolCallID: "c1", Name: "f"},
	}
	got, err := Render(src, msgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := `user:False:False;assistant:True:True[c1 function f {"b": 1, "a": "x"}][c2 function g "not json"];tool:False:Falsec1f;`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
