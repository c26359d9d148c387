package io.qlora4j.model.tokenizer.template;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Recursive-descent parser from {@link Token}s to {@link Node}s, following Jinja2's grammar and operator precedence
 * ({@code jinja2/parser.py}: conditional expression, {@code or}, {@code and}, {@code not}, comparisons, {@code + -},
 * {@code ~}, {@code * / // %}, {@code **}, unary {@code - +}, then postfix {@code . [] ()} and {@code |filter} /
 * {@code is test}).
 *
 * <p>Statements: {@code if/elif/else}, {@code for} (tuple targets, inline {@code if}, {@code else}), {@code set}
 * (name, namespace attribute, block), {@code break}, {@code continue}, {@code generation}. Anything else
 * ({@code macro}, {@code call}, {@code filter}, {@code include}, {@code extends}, {@code block}, {@code with},
 * {@code raw}, ...) is a {@link TemplateException} naming the statement.
 */
final class Parser {
    private static final Set<String> UNSUPPORTED_STATEMENTS = Set.of("macro", "call", "filter", "include", "import",
            "from", "extends", "block", "with", "raw", "autoescape", "do", "trans");
    private static final Set<String> COMPARE_OPS = Set.of("==", "!=", "<", "<=", ">", ">=");

    private final Source source;
    private final List<Token> tokens;
    private final Set<String> turnMarkers;
    private int pos;

    private Parser(Source source, List<Token> tokens, Set<String> turnMarkers) {
        this.source = source;
        this.tokens = tokens;
        this.turnMarkers = turnMarkers;
    }

    /** Parses a template; literal text and string literals get their turn markers tagged. */
    static List<Node> parse(Source source, Set<String> turnMarkers) {
        return new Parser(source, Lexer.tokenize(source), turnMarkers).parseBody(Set.of(), null);
    }

    // ---- statements

    /**
     * Nodes until EOF or a {@code {% keyword %}} with keyword in {@code ends} (not consumed). {@code opener} is the
     * block being parsed (null at top level), for the error when another block's end or branch comes first.
     */
    private List<Node> parseBody(Set<String> ends, String opener) {
        List<Node> body = new ArrayList<>();
        while (true) {
            Token t = peek();
            switch (t.type()) {
                case EOF -> {
                    return body;
                }
                case TEXT -> {
                    pos++;
                    body.add(new Node.Text(TaggedText.withMarkers(t.value(), turnMarkers)));
                }
                case VARIABLE_BEGIN -> {
                    pos++;
                    Expr e = parseExpression();
                    expect(Token.Type.VARIABLE_END, "}}");
                    body.add(new Node.Output(e, t.offset()));
                }
                case BLOCK_BEGIN -> {
                    Token keyword = tokens.get(pos + 1);
                    if (keyword.type() == Token.Type.NAME && ends.contains(keyword.value())) {
                        return body;
                    }
                    if (opener != null && keyword.type() == Token.Type.NAME && isBlockPart(keyword.value())) {
                        throw source.error(keyword.offset(), "expected one of " + ends.stream().sorted()
                                .map(e -> "'{% " + e + " %}'").toList() + " in '{% " + opener + " %}', found '"
                                + keyword.value() + "'");
                    }
                    pos += 2;
                    body.add(parseStatement(keyword));
                }
                default -> throw source.error(t.offset(), "unexpected '" + t.value() + "'");
            }
        }
    }

    private static boolean isBlockPart(String keyword) {
        return keyword.startsWith("end") || keyword.equals("elif") || keyword.equals("else");
    }

    private Node parseStatement(Token keyword) {
        if (keyword.type() != Token.Type.NAME) {
            throw source.error(keyword.offset(), "expected a statement name after {%, found '" + keyword.value() + "'");
        }
        String name = keyword.value();
        return switch (name) {
            case "if" -> parseIf();
            case "for" -> parseFor(keyword.offset());
            case "set" -> parseSet(keyword.offset());
            case "break", "continue" -> {
                expect(Token.Type.BLOCK_END, "%}");
                yield new Node.LoopControl(name.equals("break"), keyword.offset());
            }
            case "generation" -> {
                expect(Token.Type.BLOCK_END, "%}");
                List<Node> body = parseBody(Set.of("endgeneration"), "generation");
                endBlock("endgeneration", "generation", keyword.offset());
                yield new Node.Generation(body);
            }
            default -> throw source.error(keyword.offset(), UNSUPPORTED_STATEMENTS.contains(name)
                    ? "the '{% " + name + " %}' statement is not supported by this Jinja2 subset (supported: if, for,"
                    + " set, break, continue, generation)"
                    : "unknown statement '{% " + name + " %}'" + (name.startsWith("end") ? " with no open block" : ""));
        };
    }

    private Node parseIf() {
        List<Node.Branch> branches = new ArrayList<>();
        int start = peek().offset();
        Expr test = parseExpression();
        expect(Token.Type.BLOCK_END, "%}");
        List<Node> body = parseBody(Set.of("elif", "else", "endif"), "if");
        branches.add(new Node.Branch(test, body));
        List<Node> orElse = List.of();
        while (true) {
            requireBlock("endif", "if", start);
            String kw = tokens.get(pos + 1).value();
            pos += 2;
            if (kw.equals("elif")) {
                Expr t = parseExpression();
                expect(Token.Type.BLOCK_END, "%}");
                branches.add(new Node.Branch(t, parseBody(Set.of("elif", "else", "endif"), "if")));
            } else if (kw.equals("else")) {
                expect(Token.Type.BLOCK_END, "%}");
                orElse = parseBody(Set.of("endif"), "if");
                endBlock("endif", "if", start);
                break;
            } else {
                expect(Token.Type.BLOCK_END, "%}");
                break;
            }
        }
        return new Node.If(branches, orElse);
    }

    private Node parseFor(int start) {
        List<String> targets = new ArrayList<>();
        do {
            targets.add(expectName("a loop variable name"));
        } while (acceptOperator(","));
        if (!peek().isName("in")) {
            throw source.error(peek().offset(), "expected 'in' in '{% for %}', found '" + peek().value() + "'");
        }
        pos++;
        Expr iterable = parseOr();
        Expr filter = null;
        if (peek().isName("if")) {
            pos++;
            filter = parseExpression();
        }
        if (peek().isName("recursive")) {
            throw source.error(peek().offset(), "recursive for loops are not supported by this Jinja2 subset");
        }
        expect(Token.Type.BLOCK_END, "%}");
        List<Node> body = parseBody(Set.of("else", "endfor"), "for");
        List<Node> orElse = List.of();
        requireBlock("endfor", "for", start);
        if (tokens.get(pos + 1).isName("else")) {
            pos += 2;
            expect(Token.Type.BLOCK_END, "%}");
            orElse = parseBody(Set.of("endfor"), "for");
        }
        endBlock("endfor", "for", start);
        return new Node.For(targets, iterable, filter, body, orElse, start);
    }

    private Node parseSet(int start) {
        String name = expectName("a variable name");
        String attribute = null;
        if (acceptOperator(".")) {
            attribute = expectName("an attribute name");
        }
        if (peek().isOperator(",")) {
            throw source.error(peek().offset(), "'{% set a, b = ... %}' (tuple assignment) is not supported");
        }
        if (peek().type() == Token.Type.BLOCK_END && attribute == null) {
            pos++;
            List<Node> body = parseBody(Set.of("endset"), "set");
            endBlock("endset", "set", start);
            return new Node.SetBlock(name, body);
        }
        if (!acceptOperator("=")) {
            throw source.error(peek().offset(), "expected '=' in '{% set %}', found '" + peek().value() + "'");
        }
        Expr value = parseExpression();
        expect(Token.Type.BLOCK_END, "%}");
        return new Node.Set(name, attribute, value, start);
    }

    private void requireBlock(String end, String opener, int start) {
        if (peek().type() == Token.Type.EOF) {
            throw source.error(start, "'{% " + opener + " %}' is never closed with '{% " + end + " %}'");
        }
    }

    /** Consumes the {@code {% end %}} that {@link #parseBody} stopped at (or reports EOF). */
    private void endBlock(String end, String opener, int start) {
        requireBlock(end, opener, start);
        assert tokens.get(pos + 1).isName(end) : "parseBody stops only at the keywords it was given";
        pos += 2;
        expect(Token.Type.BLOCK_END, "%}");
    }

    // ---- expressions

    private Expr parseExpression() {
        Expr expr = parseOr();
        while (peek().isName("if")) {
            int offset = next().offset();
            Expr test = parseOr();
            Expr orElse = null;
            if (peek().isName("else")) {
                pos++;
                orElse = parseExpression();
            }
            expr = new Expr.Conditional(test, expr, orElse, offset);
        }
        return expr;
    }

    private Expr parseOr() {
        Expr left = parseAnd();
        while (peek().isName("or")) {
            int offset = next().offset();
            left = new Expr.Logical(false, left, parseAnd(), offset);
        }
        return left;
    }

    private Expr parseAnd() {
        Expr left = parseNot();
        while (peek().isName("and")) {
            int offset = next().offset();
            left = new Expr.Logical(true, left, parseNot(), offset);
        }
        return left;
    }

    private Expr parseNot() {
        if (peek().isName("not")) {
            int offset = next().offset();
            return new Expr.Unary("not", parseNot(), offset);
        }
        return parseCompare();
    }

    private Expr parseCompare() {
        int offset = peek().offset();
        Expr first = parseMath1();
        List<String> ops = new ArrayList<>();
        List<Expr> rest = new ArrayList<>();
        while (true) {
            Token t = peek();
            if (t.type() == Token.Type.OPERATOR && COMPARE_OPS.contains(t.value())) {
                pos++;
                ops.add(t.value());
            } else if (t.isName("in")) {
                pos++;
                ops.add("in");
            } else if (t.isName("not") && tokens.get(pos + 1).isName("in")) {
                pos += 2;
                ops.add("notin");
            } else {
                break;
            }
            rest.add(parseMath1());
        }
        return ops.isEmpty() ? first : new Expr.Compare(first, ops, rest, offset);
    }

    private Expr parseMath1() {
        Expr left = parseConcat();
        while (peek().isOperator("+") || peek().isOperator("-")) {
            Token op = next();
            left = new Expr.Binary(op.value(), left, parseConcat(), op.offset());
        }
        return left;
    }

    private Expr parseConcat() {
        Expr left = parseMath2();
        while (peek().isOperator("~")) {
            Token op = next();
            left = new Expr.Binary("~", left, parseMath2(), op.offset());
        }
        return left;
    }

    private Expr parseMath2() {
        Expr left = parsePow();
        while (peek().isOperator("*") || peek().isOperator("/") || peek().isOperator("//") || peek().isOperator("%")) {
            Token op = next();
            left = new Expr.Binary(op.value(), left, parsePow(), op.offset());
        }
        return left;
    }

    private Expr parsePow() {
        Expr left = parseUnary(true);
        while (peek().isOperator("**")) {
            Token op = next();
            left = new Expr.Binary("**", left, parseUnary(true), op.offset());
        }
        return left;
    }

    private Expr parseUnary(boolean withFilter) {
        Token t = peek();
        Expr node;
        if (t.isOperator("-") || t.isOperator("+")) {
            pos++;
            node = new Expr.Unary(t.value(), parseUnary(false), t.offset());
        } else {
            node = parsePostfix(parsePrimary());
        }
        return withFilter ? parseFilterExpr(node) : node;
    }

    private Expr parsePrimary() {
        Token t = next();
        switch (t.type()) {
            case NAME -> {
                return switch (t.value()) {
                    case "true", "True" -> new Expr.Literal(Value.TRUE, t.offset());
                    case "false", "False" -> new Expr.Literal(Value.FALSE, t.offset());
                    case "none", "None" -> new Expr.Literal(Value.NONE, t.offset());
                    default -> new Expr.Name(t.value(), t.offset());
                };
            }
            case STRING -> {
                StringBuilder sb = new StringBuilder(t.value());
                while (peek().type() == Token.Type.STRING) {
                    sb.append(next().value()); // adjacent literals concatenate, as in Python
                }
                return new Expr.Literal(new Value.Str(TaggedText.withMarkers(sb.toString(), turnMarkers)), t.offset());
            }
            case INTEGER -> {
                try {
                    return new Expr.Literal(new Value.Int(Long.parseLong(t.value())), t.offset());
                } catch (NumberFormatException e) {
                    throw source.error(t.offset(), "integer literal " + t.value() + " does not fit in 64 bits");
                }
            }
            case FLOAT -> {
                return new Expr.Literal(new Value.Flt(Double.parseDouble(t.value())), t.offset());
            }
            case OPERATOR -> {
                switch (t.value()) {
                    case "(" -> {
                        if (acceptOperator(")")) {
                            return new Expr.ListExpr(List.of(), t.offset());
                        }
                        Expr first = parseExpression();
                        if (acceptOperator(")")) {
                            return first;
                        }
                        List<Expr> items = new ArrayList<>(List.of(first));
                        while (acceptOperator(",")) {
                            if (peek().isOperator(")")) {
                                break;
                            }
                            items.add(parseExpression());
                        }
                        expectOperator(")");
                        return new Expr.ListExpr(items, t.offset());
                    }
                    case "[" -> {
                        List<Expr> items = new ArrayList<>();
                        while (!acceptOperator("]")) {
                            if (!items.isEmpty()) {
                                expectOperator(",");
                                if (acceptOperator("]")) {
                                    break;
                                }
                            }
                            items.add(parseExpression());
                        }
                        return new Expr.ListExpr(items, t.offset());
                    }
                    case "{" -> {
                        List<Expr> keys = new ArrayList<>();
                        List<Expr> values = new ArrayList<>();
                        while (!acceptOperator("}")) {
                            if (!keys.isEmpty()) {
                                expectOperator(",");
                                if (acceptOperator("}")) {
                                    break;
                                }
                            }
                            keys.add(parseExpression());
                            expectOperator(":");
                            values.add(parseExpression());
                        }
                        return new Expr.DictExpr(keys, values, t.offset());
                    }
                    default -> {
                    }
                }
            }
            default -> {
            }
        }
        throw source.error(t.offset(), "expected an expression, found '" + describe(t) + "'");
    }

    private Expr parsePostfix(Expr node) {
        while (true) {
            Token t = peek();
            if (t.isOperator(".")) {
                pos++;
                Token name = next();
                if (name.type() != Token.Type.NAME && name.type() != Token.Type.INTEGER) {
                    throw source.error(name.offset(), "expected an attribute name after '.', found '" + describe(name) + "'");
                }
                node = name.type() == Token.Type.INTEGER
                        ? new Expr.Index(node, new Expr.Literal(new Value.Int(Long.parseLong(name.value())), name.offset()),
                        node.offset())
                        : new Expr.Attribute(node, name.value(), node.offset());
            } else if (t.isOperator("[")) {
                pos++;
                node = parseSubscript(node, node.offset());
            } else if (t.isOperator("(")) {
                pos++;
                node = parseCall(node, node.offset());
            } else {
                return node;
            }
        }
    }

    private Expr parseSubscript(Expr target, int offset) {
        Expr start = null, stop = null, step = null;
        if (!peek().isOperator(":")) {
            start = parseExpression();
            if (acceptOperator("]")) {
                return new Expr.Index(target, start, offset);
            }
        }
        expectOperator(":");
        if (!peek().isOperator(":") && !peek().isOperator("]")) {
            stop = parseExpression();
        }
        if (acceptOperator(":") && !peek().isOperator("]")) {
            step = parseExpression();
        }
        expectOperator("]");
        return new Expr.Slice(target, start, stop, step, offset);
    }

    private Expr.Call parseCall(Expr callee, int offset) {
        List<Expr> args = new ArrayList<>();
        Map<String, Expr> kwargs = new LinkedHashMap<>();
        parseArguments(args, kwargs);
        return new Expr.Call(callee, args, kwargs, offset);
    }

    /** Arguments after a consumed '(' up to and including ')'. */
    private void parseArguments(List<Expr> args, Map<String, Expr> kwargs) {
        while (!acceptOperator(")")) {
            if (!args.isEmpty() || !kwargs.isEmpty()) {
                expectOperator(",");
                if (acceptOperator(")")) {
                    return;
                }
            }
            if (peek().type() == Token.Type.NAME && tokens.get(pos + 1).isOperator("=")) {
                String name = next().value();
                pos++;
                kwargs.put(name, parseExpression());
            } else {
                if (!kwargs.isEmpty()) {
                    throw source.error(peek().offset(), "positional argument after keyword argument");
                }
                args.add(parseExpression());
            }
        }
    }

    private Expr parseFilterExpr(Expr node) {
        while (true) {
            Token t = peek();
            if (t.isOperator("|")) {
                pos++;
                String name = expectName("a filter name");
                List<Expr> args = new ArrayList<>();
                Map<String, Expr> kwargs = new LinkedHashMap<>();
                if (acceptOperator("(")) {
                    parseArguments(args, kwargs);
                }
                node = new Expr.Filter(node, name, args, kwargs, node.offset());
            } else if (t.isName("is")) {
                pos++;
                boolean negated = false;
                if (peek().isName("not")) {
                    pos++;
                    negated = true;
                }
                Token nameToken = peek();
                String name = expectName("a test name");
                if (nameToken.type() == Token.Type.NAME && (name.equals("none") || name.equals("true")
                        || name.equals("false"))) {
                    name = name.toLowerCase();
                }
                List<Expr> args = new ArrayList<>();
                if (acceptOperator("(")) {
                    Map<String, Expr> kwargs = new LinkedHashMap<>();
                    parseArguments(args, kwargs);
                    if (!kwargs.isEmpty()) {
                        throw source.error(t.offset(), "keyword arguments to tests are not supported");
                    }
                }
                node = new Expr.Test(node, name, negated, args, node.offset());
            } else if (t.isOperator("(")) {
                pos++;
                node = parseCall(node, node.offset());
            } else {
                return node;
            }
        }
    }

    // ---- token helpers

    private Token peek() {
        return tokens.get(pos);
    }

    private Token next() {
        return tokens.get(pos++);
    }

    private boolean acceptOperator(String op) {
        if (peek().isOperator(op)) {
            pos++;
            return true;
        }
        return false;
    }

    private void expectOperator(String op) {
        if (!acceptOperator(op)) {
            throw source.error(peek().offset(), "expected '" + op + "', found '" + describe(peek()) + "'");
        }
    }

    private void expect(Token.Type type, String text) {
        Token t = peek();
        if (t.type() != type) {
            throw source.error(t.offset(), "expected '" + text + "', found '" + describe(t) + "'");
        }
        pos++;
    }

    private String expectName(String what) {
        Token t = next();
        if (t.type() != Token.Type.NAME) {
            throw source.error(t.offset(), "expected " + what + ", found '" + describe(t) + "'");
        }
        return t.value();
    }

    private static String describe(Token t) {
        return switch (t.type()) {
            case EOF -> "end of template";
            case TEXT -> "text";
            case STRING -> "'" + t.value() + "'";
            default -> t.value();
        };
    }
}
