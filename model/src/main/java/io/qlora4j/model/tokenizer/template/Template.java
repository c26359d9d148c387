package io.qlora4j.model.tokenizer.template;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A compiled chat template: the subset of Jinja2 that chat templates use (see {@link Parser} for statements,
 * {@link Builtins} for filters, tests and methods), rendered the way transformers renders
 * ({@code ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)}, default {@code Undefined},
 * {@code raise_exception}). Unsupported syntax fails when the template is compiled, naming the construct and its
 * line; a runtime error (a type error, {@code raise_exception}) fails when it renders.
 *
 * <p>Not Jinja2: no macros, includes, inheritance, autoescaping or Python object access; the output is
 * {@link Rendered} text plus {@link Mark}s telling where tagged strings (message contents, end-of-turn markers) were
 * written and by which loop iteration.
 */
public final class Template {
    /** A tagged range of the output, written during loop iteration {@code iteration} (0 outside loops). */
    public record Mark(int start, int end, TaggedText.Kind kind, int messageIndex, int iteration) {
    }

    /** The rendered text and its marks in output order. */
    public record Rendered(String text, List<Mark> marks) {
    }

    private final Source source;
    private final List<Node> body;

    private Template(Source source, List<Node> body) {
        this.source = source;
        this.body = body;
    }

    /**
     * Compiles {@code text}; every occurrence of a {@code turnMarkers} string in the template's literal text and
     * string literals is tagged {@link TaggedText.Kind#TURN_MARKER}.
     *
     * @param origin where the template comes from (a file name), for error messages
     */
    public static Template compile(String text, String origin, Set<String> turnMarkers) {
        Source source = new Source(Lexer.normalizeNewlines(text), origin);
        return new Template(source, Parser.parse(source, turnMarkers));
    }

    /**
     * Renders with the given variables: {@link String}, {@link TaggedText}, {@link Boolean}, {@link Integer},
     * {@link Long}, {@link Double}, {@link List} and {@link Map} with string keys, nested.
     */
    public Rendered render(Map<String, ?> variables) {
        Map<String, Value> globals = new LinkedHashMap<>();
        variables.forEach((k, v) -> globals.put(k, toValue(v)));
        return new Interpreter(source, globals).run(body);
    }

    private static Value toValue(Object o) {
        return switch (o) {
            case null -> Value.NONE;
            case String s -> Value.Str.of(s);
            case TaggedText t -> new Value.Str(t);
            case Boolean b -> Value.bool(b);
            case Integer i -> new Value.Int(i);
            case Long l -> new Value.Int(l);
            case Double d -> new Value.Flt(d);
            case List<?> list -> new Value.ListValue(list.stream().map(Template::toValue).toList());
            case Map<?, ?> map -> {
                Map<String, Value> entries = new LinkedHashMap<>();
                map.forEach((k, v) -> entries.put((String) k, toValue(v)));
                yield new Value.DictValue(entries);
            }
            default -> throw new IllegalArgumentException("template variable of type " + o.getClass().getName()
                    + " is not supported");
        };
    }
}
