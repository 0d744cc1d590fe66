// Unit tests of the Jinja engine: language features, whitespace control, Python-compatible
// value semantics, error reporting and the sandbox limits. Expected strings are what Jinja2 3.1
// renders for the same template (checked against the reference implementation).
#include "engine/chat/template.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace hearth::chat {
namespace {

nlohmann::ordered_json sample_context() {
  return nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": "Hi ünï"},
      {"role": "assistant", "content": "Yo", "tool_calls": [
        {"id": "c1", "function": {"name": "f", "arguments": {"b": 1, "a": [1.5, null, true]}}}]}
    ],
    "bos_token": "<s>",
    "eos_token": "</s>",
    "add_generation_prompt": true
  })");
}

// Renders `source` with the sample context; failures come back as "ERROR: message".
std::string render(std::string_view source, TemplateOptions options = {}) {
  auto tmpl = ChatTemplate::parse(source, options);
  if (!tmpl) return "ERROR: " + tmpl.error().message;
  auto out = tmpl->render(sample_context());
  if (!out) return "ERROR: " + out.error().message;
  return *out;
}

bool is_error(const std::string& s) {
  return s.rfind("ERROR: ", 0) == 0;
}

struct Case {
  const char* source;
  const char* expected;
};

void expect_cases(const std::vector<Case>& cases) {
  for (const auto& c : cases) EXPECT_EQ(render(c.source), c.expected) << "template: " << c.source;
}

TEST(JinjaTemplate, OutputAndLiterals) {
  expect_cases({
      {"Hello {{ 'world' }}!", "Hello world!"},
      {"{{ 'a' \"b\" 'c' }}", "abc"},
      {R"({{ '\x41\u00e9\t|' }})", "A\xC3\xA9\t|"},
      {"{{ true }}{{ True }}{{ none }}{{ None }}{{ false }}", "TrueTrueNoneNoneFalse"},
      {"{{ [1, 'two', none, true, 1.0, ('t',), (1, 2)] }}",
       "[1, 'two', None, True, 1.0, ('t',), (1, 2)]"},
      {"{{ {'a': {'b': [None]}} }}", "{'a': {'b': [None]}}"},
      {R"({{ ["it's", 'q"x', 'a\nb'] }})", R"(["it's", 'q"x', 'a\nb'])"},
      {"{{ 1_000 }}|{{ 1.5e3 }}|{{ 1e20 }}|{{ 1e-5 }}|{{ 0.1 + 0.2 }}",
       "1000|1500.0|1e+20|1e-05|0.30000000000000004"},
      {"{{ (1,) }}|{{ () }}|{{ [] }}|{{ {} }}", "(1,)|()|[]|{}"},
  });
}

TEST(JinjaTemplate, Operators) {
  expect_cases({
      {"{{ 1 + 2 * 3 - 4 / 2 }}", "5.0"},
      {"{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 7 / 2 }}",
       "3|-4|1|2|1024|3.5"},
      {"{{ -2 ** 2 }}|{{ 2 ** 3 ** 2 }}|{{ 10 - 2 - 3 }}", "4|64|5"},
      {"{{ 'a' ~ 1 ~ none ~ true }}|{{ 'a' ~ (1 + 2) }}", "a1NoneTrue|a3"},
      // `~` binds tighter than `+`, so this is ('a' ~ 1) + 2.
      {"{{ 'a' ~ 1 + 2 }}",
       "ERROR: can only concatenate str (not \"int\") to str (template line 1)"},
      {"{{ 'ab' * 3 }}|{{ [1] * 2 }}|{{ 2 * 'x' }}", "ababab|[1, 1]|xx"},
      {"{{ 1 and 2 }}|{{ 0 and 2 }}|{{ 0 or 'x' }}|{{ not 0 }}", "2|0|x|True"},
      {"{{ 'a' in 'cat' }}|{{ 'z' not in 'cat' }}|{{ 1 in [1] }}|{{ 'k' in {'k': 1} }}",
       "True|True|True|True"},
      {"{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}|{{ 'a' < 'b' }}|{{ [1, 2] < [1, 3] }}",
       "True|False|True|True"},
      {"{{ 1 == 1.0 }}|{{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} }}|{{ (1, 2) == [1, 2] }}",
       "True|True|False"},
      {"{{ 1 if true else 2 }}|{{ 1 if false else 2 }}|[{{ 1 if false }}]", "1|2|[]"},
      {"{{ 'Hello %s, %d!' % ('x', 3) }}|{{ '%-4s|%3d|%.2f' % ('a', 3, 1.234) }}",
       "Hello x, 3!|a   |  3|1.23"},
  });
}

TEST(JinjaTemplate, AttributeAndItemAccess) {
  expect_cases({
      {"{{ messages[0].role }}|{{ messages[0]['content'] }}|{{ messages.0.role }}",
       "system|Be brief.|system"},
      {"{{ messages[-1].tool_calls[0].function.arguments.a[0] }}", "1.5"},
      {"{{ 'abc'[::-1] }}|{{ 'abcdef'[1:4] }}|{{ [1, 2, 3, 4, 5][::2] }}|{{ [1, 2, 3][-2:] }}",
       "cba|bcd|[1, 3, 5]|[2, 3]"},
      {"{{ messages[1].content[3] }}|{{ messages[1].content|length }}", "\xC3\xBC|6"},
      {"{{ messages[5] is defined }}|{{ messages[0].nope is defined }}", "False|False"},
      {"{{ {'a': 1}.get('b', 5) }}|{{ {'a': 1, 'b': 2}.keys()|list }}", "5|['a', 'b']"},
  });
}

TEST(JinjaTemplate, ControlFlow) {
  expect_cases({
      {"{% if 0 %}a{% elif 2 %}b{% else %}c{% endif %}", "b"},
      {"{% for x in [1, 2, 3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
       "{{ loop.length }}{{ loop.revindex }},{% endfor %}",
       "10TrueFalse33,21FalseFalse32,32FalseTrue31,"},
      {"{% for x in [] %}a{% else %}empty{% endfor %}", "empty"},
      {"{% for x in range(10) if x is odd %}{{ x }}:{{ loop.index }}/{{ loop.length }},"
       "{% endfor %}",
       "1:1/5,3:2/5,5:3/5,7:4/5,9:5/5,"},
      {"{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;"},
      {"{% for k, v in {'a': 1, 'b': 2}|items %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;"},
      {"{% for x in [1, 2, 3, 4] %}{% if x == 2 %}{% continue %}{% endif %}"
       "{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}",
       "13"},
      {"{% for x in [1, 2, 3] %}{{ loop.previtem }}/{{ loop.nextitem }};{% endfor %}",
       "/2;1/3;2/;"},
      {"{% for x in [1, 1, 2, 2, 1] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}",
       "121"},
      {"{% for i in range(3) %}{{ loop.cycle('odd', 'even') }} {% endfor %}", "odd even odd "},
      {"{% if 1, 0 %}tuple{% endif %}|{% for x in 1, 2 %}{{ x }}{% endfor %}", "tuple|12"},
      {"{% for x in [1, 2] %}{% for y in [3, 4] %}{{ x }}{{ y }}{% endfor %}"
       "{{ loop.index }}|{% endfor %}",
       "13141|23242|"},
  });
}

TEST(JinjaTemplate, AssignmentScoping) {
  expect_cases({
      // A loop body's `set` does not survive the iteration; namespace() is the way out.
      {"{% set x = 1 %}{% for i in range(3) %}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}",
       "2221"},
      {"{% set ns = namespace(c=0) %}{% for i in range(4) %}{% set ns.c = ns.c + i %}"
       "{% endfor %}{{ ns.c }}",
       "6"},
      {"{% if true %}{% set z = 5 %}{% endif %}{{ z }}", "5"},
      {"{% set x %}block {{ 1 + 1 }}{% endset %}[{{ x }}]", "[block 2]"},
      {"{% set a, b = [1, 2] %}{{ a }}{{ b }}", "12"},
      {"{% set t = 1, 2 %}{{ t }}", "(1, 2)"},
      {"{% set x = 5 %}{% set x.y = 1 %}",
       "ERROR: cannot assign attribute on non-namespace object (template line 1)"},
  });
}

TEST(JinjaTemplate, Macros) {
  expect_cases({
      {"{% macro m(a, b=2, c='z') %}{{ a }}-{{ b }}-{{ c }}{% endmacro %}"
       "{{ m(1) }}|{{ m(1, 3) }}|{{ m(1, c='q') }}|{{ m() }}",
       "1-2-z|1-3-z|1-2-q|-2-z"},
      {"{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %}"
       "{{ rec(5) }}",
       "54321"},
      {"{% set g = 'G' %}{% macro m() %}{{ g }}{{ later }}{% endmacro %}"
       "{% set later = 'L' %}{{ m() }}",
       "GL"},
      {"{% macro outer() %}<{{ caller() }}>{% endmacro %}{% call outer() %}inner{% endcall %}",
       "<inner>"},
      {"{% macro each(xs) %}{% for x in xs %}[{{ caller(x) }}]{% endfor %}{% endmacro %}"
       "{% call(u) each(['a', 'b']) %}{{ u|upper }}{% endcall %}",
       "[A][B]"},
      {"{% macro f(x) %}{{ x }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ f(1, 2, k=3) }}",
       "1(2,){'k': 3}"},
      {"{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}",
       "ERROR: macro 'm' takes not more than 1 argument(s) (template line 1)"},
      {"{% filter upper %}hello {{ 'world' }}{% endfilter %}", "HELLO WORLD"},
  });
}

TEST(JinjaTemplate, WhitespaceControl) {
  expect_cases({
      {"a\n  {% if true %}\n  b\n  {% endif %}\nc", "a\n  b\nc"},
      {"a\n  {%+ if true %}\n  b\n  {% endif +%}\nc", "a\n    b\n\nc"},
      {"a\n  {%- if true -%}\n  b\n  {%- endif -%}\n  c", "abc"},
      {"  {{ 'v' }}\n  {% set x = 1 %}  tail\nz", "  v\n  tail\nz"},
      {"{% for i in [1, 2] %}\n  {{ i }}\n{% endfor %}\n", "  1\n  2\n"},
      {" x {% if true %} y {% endif %} z ", " x  y  z "},
      {"{{- '  x' }} y {{- 'z' -}}   w", "  x yzw"},
      {"a {# comment #} b\n  {# line #}\nx", "a  b\nx"},
      {"{% raw %}{{ not rendered }}{% endraw %}", "{{ not rendered }}"},
      {"{% if true %}\r\nwin\r\n{% endif %}\r\nend\r\n", "win\nend"},
      {"text\n\n", "text\n"},
  });
  TemplateOptions plain;
  plain.trim_blocks = false;
  plain.lstrip_blocks = false;
  EXPECT_EQ(render("a\n  {% if true %}\n  b\n  {% endif %}\nc", plain), "a\n  \n  b\n  \nc");
}

TEST(JinjaTemplate, Filters) {
  expect_cases({
      {"{{ '  x  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'hello world'|title }}|"
       "{{ 'hELLO'|capitalize }}|{{ 'Ab'|upper }}{{ 'Ab'|lower }}",
       "x|hi|Hello World|Hello|ABab"},
      {"{{ [3, 1, 2]|sort }}|{{ [3, 1, 2]|sort(reverse=true) }}|{{ ['b', 'A', 'c']|sort }}",
       "[1, 2, 3]|[3, 2, 1]|['A', 'b', 'c']"},
      {"{{ [1, 2, 2, 3, 1]|unique|list }}|{{ [1, 2, 3]|reverse|list }}|{{ [1, 2, 3]|first }}"
       "{{ [1, 2, 3]|last }}",
       "[1, 2, 3]|[3, 2, 1]|13"},
      {"{{ [1, 2, 3]|join(', ') }}|{{ messages|map(attribute='role')|join('/') }}|"
       "{{ ['a', 'b']|map('upper')|list }}",
       "1, 2, 3|system/user/assistant|['A', 'B']"},
      {"{{ [1, 2, 3, 4]|select('odd')|list }}|{{ [1, 2, 3, 4]|reject('odd')|list }}|"
       "{{ [1, 2, 3]|select('gt', 1)|list }}|{{ [0, 1, '', none, 'a']|select|list }}",
       "[1, 3]|[2, 4]|[2, 3]|[1, 'a']"},
      {"{{ messages|selectattr('role', 'equalto', 'user')|list|length }}|"
       "{{ messages|rejectattr('role', 'eq', 'user')|map(attribute='role')|list }}|"
       "{{ messages|selectattr('tool_calls', 'defined')|list|length }}",
       "1|['system', 'assistant']|1"},
      {"{{ '3'|int + 1 }}|{{ '3.7'|int }}|{{ 'x'|int }}|{{ 'x'|int(5) }}|{{ 3.9|int }}|"
       "{{ '2.5'|float }}|{{ -3|abs }}|{{ 2.567|round(2) }}|{{ 2.5|round }}",
       "4|3|0|5|3|2.5|3|2.57|2.0"},
      {"{{ x|default('d') }}|{{ ''|default('d') }}|{{ ''|default('d', true) }}|{{ none|d('n') }}",
       "d||d|None"},
      {"{{ [1, 2, 3]|length }}|{{ 'abc'|count }}|{{ {'a': 1}|length }}|{{ x|length }}|"
       "{{ [1, 2, 3]|sum }}|{{ [1, 5, 3]|max }}|{{ [4, 2, 8]|min }}",
       "3|3|1|0|6|5|2"},
      {"{{ 'line1\\nline2\\n\\nline4'|indent }}|{{ 'a\\nb'|indent(2, true) }}",
       "line1\n    line2\n\n    line4|  a\n  b"},
      {"{{ '<a&b>'|escape }}|{{ 'one two  three'|wordcount }}|{{ [1, 2, 3]|batch(2)|list }}",
       "&lt;a&amp;b&gt;|3|[[1, 2], [3]]"},
      {"{{ {'b': 1, 'a': 2}|dictsort }}|{{ [1, 2]|string }}", "[('a', 2), ('b', 1)]|[1, 2]"},
      // A Markup operand HTML-escapes plain strings concatenated to it, as in Jinja2.
      {"{{ ('<x>'|safe) + '<y>' }}|{{ ('<x>'|safe) ~ '<y>' }}", "<x>&lt;y&gt;|<x><y>"},
  });
}

TEST(JinjaTemplate, ToJsonMatchesHuggingFace) {
  expect_cases({
      {"{{ {'b': 1, 'a': [1, 2.5, 'é', none, true]}|tojson }}",
       "{\"b\": 1, \"a\": [1, 2.5, \"é\", null, true]}"},
      {"{{ {'a': {'b': []}, 'c': {}}|tojson(indent=2) }}",
       "{\n  \"a\": {\n    \"b\": []\n  },\n  \"c\": {}\n}"},
      {"{{ 'x\\ny\"z</s>'|tojson }}", "\"x\\ny\\\"z</s>\""},
      {"{{ [1, 2]|tojson(separators=(',', ':')) }}|{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}",
       "[1,2]|{\"a\": 2, \"b\": 1}"},
      {"{{ 'é'|tojson(ensure_ascii=true) }}", "\"\\u00e9\""},
      {"{{ messages[2].tool_calls[0].function.arguments|tojson }}",
       "{\"b\": 1, \"a\": [1.5, null, true]}"},
      {"{{ messages|map(attribute='role')|tojson }}",
       "ERROR: Object of type generator is not JSON serializable (template line 1)"},
      {"{{ x|tojson }}",
       "ERROR: Object of type Undefined is not JSON serializable (template line 1)"},
  });
}

TEST(JinjaTemplate, Tests) {
  expect_cases({
      {"{{ x is defined }}|{{ x is undefined }}|{{ none is none }}|{{ 'a' is string }}|"
       "{{ 1 is number }}|{{ 1.0 is integer }}|{{ true is boolean }}|{{ {} is mapping }}",
       "False|True|True|True|True|False|True|True"},
      {"{{ [] is iterable }}|{{ 's' is iterable }}|{{ 1 is iterable }}|{{ {} is sequence }}|"
       "{{ 3 is odd }}|{{ 4 is even }}|{{ 9 is divisibleby 3 }}|{{ 1 is in [1, 2] }}",
       "True|True|False|True|True|True|True|True"},
      {"{{ 'a' is eq 'a' }}|{{ true is true }}|{{ 0 is false }}|{{ 1 is not none }}|"
       "{{ not 1 is defined }}",
       "True|True|False|True|False"},
  });
}

TEST(JinjaTemplate, StringAndContainerMethods) {
  expect_cases({
      {"{{ '{} and {}'.format('a', 'b') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|"
       "{{ 'a b c'.split(' ', 1) }}|{{ 'x'.join(['1', '2']) }}",
       "a and b|['a', 'b', '', 'c']|['a', 'b']|['a', 'b c']|1x2"},
      {"{{ '  hi  '.strip() }}|{{ '--hi--'.lstrip('-') }}|{{ '--hi--'.rstrip('-') }}|"
       "{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'hello'.find('l') }}",
       "hi|hi--|--hi|True|True|2"},
      {"{{ 'a</think>b'.split('</think>')[-1] }}|{{ 'aXa'.replace('a', 'b') }}|"
       "{{ 'hello world'.title() }}|{{ 'ABC'.lower() }}",
       "b|bXb|Hello World|abc"},
      {"{% set ns = namespace(items=[]) %}{% do ns.items.append(3) %}{{ ns.items }}", "[3]"},
      {"{{ dict(a=1, b='x') }}|{{ range(1, 10, 3)|list }}|{{ range(5, 0, -2)|list }}",
       "{'a': 1, 'b': 'x'}|[1, 4, 7]|[5, 3, 1]"},
  });
}

TEST(JinjaTemplate, UndefinedSemantics) {
  expect_cases({
      {"[{{ missing }}]|{{ missing ~ 'a' }}|{{ missing|upper }}|{{ missing|list }}|"
       "{% for i in missing %}no{% endfor %}|{{ missing == missing }}|{{ 'a' in missing }}",
       "[]|a||[]||True|False"},
      {"{{ missing.attr }}", "ERROR: 'missing' is undefined (template line 1)"},
      {"{{ missing + 1 }}", "ERROR: 'missing' is undefined (template line 1)"},
      {"{{ messages[10].role }}", "ERROR: list object has no element 10 (template line 1)"},
      {"{{ 'x: ' + messages[0].description }}",
       "ERROR: 'dict object' has no attribute 'description' (template line 1)"},
  });
}

TEST(JinjaTemplate, RuntimeErrorsAreReportedNotThrown) {
  expect_cases({
      {"{{ raise_exception('Roles must alternate') }}", "ERROR: Roles must alternate"},
      {"{{ 'a' + 1 }}", "ERROR: can only concatenate str (not \"int\") to str (template line 1)"},
      {"{{ 1 + 'a' }}",
       "ERROR: unsupported operand type(s) for +: 'int' and 'str' (template line 1)"},
      {"{% for x in 5 %}{% endfor %}", "ERROR: 'int' object is not iterable (template line 1)"},
      {"{{ 1 < 'a' }}",
       "ERROR: '<' not supported between instances of 'int' and 'str' (template line 1)"},
      {"{{ 4 // 0 }}", "ERROR: integer division or modulo by zero (template line 1)"},
      {"\n\n{{ nope() }}", "ERROR: 'nope' is undefined (template line 3)"},
      // Inside an if, Jinja2 reports an unknown filter only when that code runs.
      {"{% if false %}{{ 1|nosuch }}{% endif %}ok", "ok"},
      {"{% if true %}{{ 1|nosuch }}{% endif %}",
       "ERROR: No filter named 'nosuch' found. (template line 1)"},
  });
}

TEST(JinjaTemplate, StrftimeNowUsesInjectedClock) {
  TemplateOptions options;
  options.clock = [] {
    std::tm tm{};
    tm.tm_year = 2026 - 1900;
    tm.tm_mon = 0;
    tm.tm_mday = 2;
    return tm;
  };
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%A') }}", options),
            "02 Jan 2026|Friday");
}

TEST(JinjaTemplate, MalformedTemplatesFailWithLineNumbers) {
  const char* malformed[] = {
      "{{ ",
      "{% if %}",
      "{{ a b }}",
      "{% for %}",
      "{# unterminated",
      "{{ 'unterminated }}",
      "{% macro m(a %}{% endmacro %}",
      "{{ (1, 2 }}",
      "{{ 1 if }}",
      "{{ x[1:2:3:4] }}",
      "{% endif %}",
      "{% if true %}",
      "{% for x in y %}{% else %}",
      "{% break %}",
      "{% include 'x' %}",
      "{{ x | }}",
      "{{ @ }}",
      "{% set %}",
      "{{ }}",
      "{%- -%}",
      "{% for x in y %}{{ 'x'|nosuchfilter }}{% endfor %}",
      "{{ 1 is nosuchtest }}",
  };
  for (const char* source : malformed) {
    auto tmpl = ChatTemplate::parse(source);
    ASSERT_FALSE(tmpl.has_value()) << source;
    EXPECT_NE(tmpl.error().message.find("line 1"), std::string::npos)
        << source << " -> " << tmpl.error().message;
  }
  auto later = ChatTemplate::parse("ok\nstill ok\n{% if x %}\n{{ 1 + }}\n{% endif %}");
  ASSERT_FALSE(later.has_value());
  EXPECT_NE(later.error().message.find("line 4"), std::string::npos) << later.error().message;
}

TEST(JinjaSandbox, IterationLimit) {
  TemplateOptions options;
  options.max_iterations = 10'000;
  EXPECT_TRUE(is_error(render("{% for i in range(1000000000) %}{% endfor %}", options)));
  std::string nested = render(
      "{% for a in range(100) %}{% for b in range(100) %}{% for c in range(100) %}"
      "{% endfor %}{% endfor %}{% endfor %}",
      options);
  ASSERT_TRUE(is_error(nested));
  EXPECT_NE(nested.find("iteration limit"), std::string::npos) << nested;
  EXPECT_EQ(render("{% for i in range(100) %}{% endfor %}done", options), "done");
}

TEST(JinjaSandbox, RecursionLimit) {
  std::string out = render("{% macro r() %}{{ r() }}{% endmacro %}{{ r() }}");
  ASSERT_TRUE(is_error(out));
  EXPECT_NE(out.find("recursion"), std::string::npos) << out;
  // Deep but legal recursion still works.
  EXPECT_EQ(render("{% macro r(n) %}{{ r(n + 1) if n < 200 else n }}{% endmacro %}{{ r(0) }}"),
            "200");
}

TEST(JinjaSandbox, OutputAndAllocationLimits) {
  TemplateOptions options;
  options.max_output_bytes = 1 << 20;
  EXPECT_TRUE(is_error(render("{% for i in range(10000) %}{{ 'x' * 1000 }}{% endfor %}", options)));
  EXPECT_TRUE(is_error(render("{{ 'x' * 9223372036854775807 }}", options)));
  EXPECT_TRUE(
      is_error(render("{% set ns = namespace(s='ab') %}{% for i in range(64) %}"
                      "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                      options)));
  EXPECT_TRUE(
      is_error(render("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}"
                      "{% set ns.l = ns.l + ns.l %}{% endfor %}",
                      options)));
  EXPECT_TRUE(is_error(render("{{ 10000000000 * 10000000000 }}", options)));
}

TEST(JinjaSandbox, HostileNestingFailsCleanly) {
  EXPECT_TRUE(
      is_error(render("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}")));
  std::string chain = "{{ 1";
  for (int i = 0; i < 100000; ++i) chain += "|trim";
  EXPECT_TRUE(is_error(render(chain + " }}")));
  std::string sum = "{{ 1";
  for (int i = 0; i < 100000; ++i) sum += "+1";
  EXPECT_TRUE(is_error(render(sum + " }}")));
  std::string blocks;
  for (int i = 0; i < 5000; ++i) blocks += "{% if 1 %}";
  EXPECT_TRUE(is_error(render(blocks)));
  // A list that contains itself prints as an error, not a stack overflow.
  EXPECT_TRUE(is_error(render("{% set l = [] %}{% do l.append(l) %}{{ l }}")));
  // A very deep value built in a loop is freed without recursion.
  EXPECT_EQ(render("{% set ns = namespace(l=[]) %}{% for i in range(100000) %}"
                   "{% set ns.l = [ns.l] %}{% endfor %}ok"),
            "ok");
}

TEST(JinjaTemplate, ConcurrentRendersShareNothingMutable) {
  auto tmpl = ChatTemplate::parse(
      "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
      "{{ m.role }};{% endfor %}{{ ns.n }}");
  ASSERT_TRUE(tmpl.has_value());
  std::vector<std::thread> threads;
  std::vector<std::string> results(8);
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto out = tmpl->render(sample_context());
        results[t] = out ? *out : out.error().message;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_EQ(r, "system;user;assistant;3");
}

TEST(JinjaTemplate, ApplyChatTemplatePassesTheDocumentedVariables) {
  auto tmpl = ChatTemplate::parse(
      "{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m.content }}|{% endfor %}"
      "{{ tools is defined }}{{ add_generation_prompt }}{{ eos_token }}");
  ASSERT_TRUE(tmpl.has_value());
  ChatRequest request;
  request.messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "hi"}])");
  request.bos_token = "<s>";
  request.eos_token = "</s>";
  EXPECT_EQ(apply_chat_template(*tmpl, request).value(), "<s>user:hi|FalseTrue</s>");
  request.tools = nlohmann::ordered_json::array();
  request.add_generation_prompt = false;
  EXPECT_EQ(apply_chat_template(*tmpl, request).value(), "<s>user:hi|TrueFalse</s>");
}

TEST(JinjaTemplate, PlainJsonContextIsAccepted) {
  auto tmpl = ChatTemplate::parse("{{ messages[0].content }}");
  ASSERT_TRUE(tmpl.has_value());
  nlohmann::json context = {{"messages", {{{"role", "user"}, {"content", "x"}}}}};
  EXPECT_EQ(tmpl->render(context).value(), "x");
  EXPECT_FALSE(tmpl->render(nlohmann::json::array()).has_value());
}

}  // namespace
}  // namespace hearth::chat
