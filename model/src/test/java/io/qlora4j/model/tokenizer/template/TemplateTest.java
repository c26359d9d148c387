package io.qlora4j.model.tokenizer.template;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Jinja2 subset, checked against what Python Jinja2 3.1 renders with transformers' settings
 * ({@code trim_blocks=True, lstrip_blocks=True}); each expected value is Python's output for the same template.
 */
class TemplateTest {
    private static String render(String template, Map<String, ?> variables) {
        return Template.compile(template, "test", Set.of()).render(variables).text();
    }

    private static String render(String template) {
        return render(template, Map.of());
    }

    private static TemplateException renderError(String template, Map<String, ?> variables) {
        return assertThrows(TemplateException.class, () -> render(template, variables));
    }

    private static void assertMessage(Throwable e, String expectedPart) {
        assertTrue(e.getMessage().contains(expectedPart), () -> "message\n  " + e.getMessage() + "\nshould contain\n  "
                + expectedPart);
    }

    @Test
    void trimBlocksRemovesTheNewlineAfterABlockTag() {
        assertEquals("A\nB", render("{% if true %}\nA\n{% endif %}\nB"));
    }

    @Test
    void lstripBlocksRemovesIndentationBeforeABlockTag() {
        assertEquals("  x\n", render("  {% if true %}\n  x\n  {% endif %}\n"));
        assertEquals("  x", render("  {%+ if true %}x{% endif %}"), "{%+ keeps the indentation");
        assertEquals("a   x", render("a {{ '' }}  {% if true %}x{% endif %}"), "not at a line start: kept");
    }

    @Test
    void minusStripsAllWhitespaceOnItsSide() {
        assertEquals("abc", render("a  {%- if true -%}  b  {%- endif -%}  c"));
        assertEquals("abc", render("a \n {{- 'b' -}} \n c"));
    }

    @Test
    void commentsAreDroppedLikeBlocks() {
        assertEquals("a b", render("a {# note #}\nb"));
    }

    @Test
    void oneTrailingNewlineIsDropped() {
        assertEquals("x\n", render("x\n\n"));
        assertEquals("x\ny", render("x\r\ny\n"));
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiterString = " => ", quoteCharacter = '`', value = {
            "1 + 2 * 3 => 7",
            "(1 + 2) * 3 => 9",
            "7 // 2 => 3",
            "-7 // 2 => -4",
            "-7 % 3 => 2",
            "2 ** 10 => 1024",
            "7 / 2 => 3.5",
            "2.0 => 2.0",
            "1 ~ 2 => 12",
            "'a' + 'b' ~ 'c' => abc",
            "1 < 2 < 3 => True",
            "3 < 2 < 5 => False",
            "'ell' in 'hello' => True",
            "3 not in [1, 2] => True",
            "'k' in {'k': 1} => True",
            "none => None",
            "undefined_name => ``",
            "'x' if false => ``",
            "'x' if false else 'y' => y",
            "1 and 'a' => a",
            "0 or 'b' => b",
            "not 0 => True",
            "[1, 2, 3][-1] => 3",
            "[1, 2, 3][5] => ``",
            "'hello'[1:3] => el",
            "'hello'[::-1] => olleh",
            "[1, 2, 3, 4][::2] => [1, 3]",
            "{'a': 1}['a'] => 1",
            "{'a': {'b': 2}}['a']['b'] => 2",
            "{'a': 1}.a => 1",
            "true == 1 => True",
            "1 == 1.0 => True",
            "'a' 'b' => ab",
            "[1, 'x', none, true] => [1, 'x', None, True]",
            "' x ' | trim => `x`",
            "'ab' | length => 2",
            "[1, 2] | count => 2",
            "'ab' | upper => AB",
            "'AB' | lower => ab",
            "'hello world' | title => Hello World",
            "'hELLO' | capitalize => Hello",
            "[3, 4] | first => 3",
            "'xyz' | last => z",
            "['a', 'b'] | join(', ') => `a, b`",
            "nothing | default('d') => d",
            "'' | default('d', true) => d",
            "'' | default('d') => ``",
            "3 | string => 3",
            "'42' | int + 1 => 43",
            "'ab' | list => ['a', 'b']",
            "[1, 2] | reverse => [2, 1]",
            "{'a': 1} | items => [['a', 1]]",
            "'aXbX' | replace('X', '-') => a-b-",
            "{'a': [1, 'é', none, true]} | tojson => `{\"a\": [1, \"é\", null, true]}`",
            "'xxaxx'.strip('x') => a",
            "' a '.lstrip() ~ '|' => `a |`",
            "'hello'.startswith('he') => True",
            "'hello'.endswith(('x', 'lo')) => True",
            "'a b  c'.split() => ['a', 'b', 'c']",
            "'a,b'.split(',') => ['a', 'b']",
            "{'a': 1}.get('b', 2) => 2",
            "'-'.join(['a', 'b']) => a-b",
            "x is defined => False",
            "none is none => True",
            "'s' is string => True",
            "4 is even => True",
            "3 is odd => True",
            "9 is divisibleby(3) => True",
            "1 is not none => True",
            "range(3) => [0, 1, 2]",
            "range(1, 7, 2) | list => [1, 3, 5]",
    })
    void expression(String expression, String expected) {
        assertEquals(expected, render("{{ " + expression + " }}"), expression);
    }

    @Test
    void stringLiteralEscapes() {
        assertEquals("é\nA\t'\\q", render("{{ '\\u00e9\\n\\x41\\t\\'\\q' }}"));
    }

    @Test
    void loopVariables() {
        assertEquals("1/0/3/True/False 2/1/2/False/False 3/2/1/False/True ",
                render("{% for x in 'abc' %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.first }}/"
                        + "{{ loop.last }} {% endfor %}"));
        assertEquals("a-b b-c c-", render("{% for x in ['a', 'b', 'c'] %}{{ x }}-{{ loop.nextitem }}"
                + "{{ ' ' if not loop.last }}{% endfor %}"));
    }

    @Test
    void forElseFilterBreakContinueAndUnpacking() {
        assertEquals("empty", render("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}"));
        assertEquals("24", render("{% for x in [1, 2, 3, 4] if x is even %}{{ x }}{% endfor %}"));
        assertEquals("13", render("{% for x in [1, 2, 3, 4, 5] %}{% if x == 2 %}{% continue %}{% endif %}"
                + "{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"));
        assertEquals("a=1;b=2;", render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
                Map.of("d", new java.util.LinkedHashMap<>(Map.of("a", 1)) {{ put("b", 2); }})));
    }

    @Test
    void setInsideALoopDoesNotLeakButNamespaceDoes() {
        assertEquals("0 3", render("{% set n = 0 %}{% set ns = namespace(total=0) %}{% for x in [1, 2] %}"
                + "{% set n = n + x %}{% set ns.total = ns.total + x %}{% endfor %}{{ n }} {{ ns.total }}"));
        assertEquals("set at top level", render("{% if true %}{% set v = 'set at top level' %}{% endif %}{{ v }}"));
        assertEquals("<b>", render("{% set x %}<{{ 'b' }}>{% endset %}{{ x }}"));
    }

    @Test
    void tagsFollowStringsThroughOperations() {
        Template t = Template.compile("{% set c = m | trim | upper %}[{{ c }}]<END>{{ c[1:] }}", "t", Set.of("<END>"));
        Template.Rendered r = t.render(Map.of("m", TaggedText.content("  abc ", 7)));
        assertEquals("[ABC]<END>BC", r.text());
        assertEquals(List.of(new Template.Mark(1, 4, TaggedText.Kind.CONTENT, 7, 0),
                new Template.Mark(5, 10, TaggedText.Kind.TURN_MARKER, -1, 0),
                new Template.Mark(10, 12, TaggedText.Kind.CONTENT, 7, 0)), r.marks());
    }

    @Test
    void marksRecordTheLoopIterationThatWroteThem() {
        Template t = Template.compile("{% for m in ms %}{{ m }}!{% endfor %}", "t", Set.of("!"));
        List<Template.Mark> marks = t.render(Map.of("ms", List.of(TaggedText.content("a", 0), TaggedText.content("b", 1))))
                .marks();
        assertEquals(List.of(1, 1, 2, 2), marks.stream().map(Template.Mark::iteration).toList());
    }

    @Test
    void runtimeErrorsNameTheProblemAndTheLine() {
        assertMessage(renderError("x\n{{ missing.attr }}", Map.of()), "test line 2, column 4: 'missing' is undefined (reading .attr)");
        assertMessage(renderError("{{ missing + 1 }}", Map.of()), "'missing' is undefined");
        assertMessage(renderError("{{ 'a' + 1 }}", Map.of()), "unsupported operand types for +: 'str' and 'int'");
        assertMessage(renderError("{{ 'a'.frobnicate() }}", Map.of()), "unknown string method 'frobnicate'");
        assertMessage(renderError("{{ xs.append(1) }}", Map.of("xs", List.of())), "immutable");
        assertMessage(renderError("{% break %}", Map.of()), "outside a loop");
        assertMessage(renderError("{{ raise_exception('no system role') }}", Map.of()), "raise_exception: no system role");
    }

    @Test
    void syntaxErrorsNameTheConstruct() {
        assertMessage(assertThrows(TemplateException.class, () -> render("{{ 1 + }}")), "expected an expression, found '}}'");
        assertMessage(assertThrows(TemplateException.class, () -> render("{% if x %}a{% endfor %}")), "expected one of ['{% elif %}', '{% else %}', '{% endif %}'] in '{% if %}', found 'endfor'");
        assertMessage(assertThrows(TemplateException.class, () -> render("{{ 'open }}")), "string literal is never closed");
        assertMessage(assertThrows(TemplateException.class, () -> render("{% include 'x.jinja' %}")), "'{% include %}' statement is not supported");
        assertMessage(assertThrows(TemplateException.class, () -> render("{% endif %}")), "unknown statement '{% endif %}' with no open block");
        assertMessage(assertThrows(TemplateException.class, () -> render("{{ x ? y }}")), "unexpected character '?'");
    }
}
