package daguerre.weights.layout;

import java.util.List;
import java.util.function.Function;
import java.util.regex.MatchResult;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One ordered rename rule: a regular expression matched at the start of a key, what replaces the
 * matched part, and optionally inner rules of which one must match the rest of the key.
 * A replacement of {@code null} means the key is deliberately ignored.
 */
record RenameRule(Pattern pattern, Function<MatchResult, String> replacement, List<RenameRule> inner) {

    /** A rule whose replacement template may refer to groups as {@code $1}, {@code $2}, ... */
    static RenameRule rule(String regex, String template) {
        return new RenameRule(Pattern.compile(regex), m -> expand(template, m), List.of());
    }

    /** A rule whose replacement is computed from the match (e.g. LDM block index arithmetic). */
    static RenameRule rule(String regex, Function<MatchResult, String> replacement) {
        return new RenameRule(Pattern.compile(regex), replacement, List.of());
    }

    /** A rule for keys that are present in checkpoints but not part of the model (buffers, unused heads). */
    static RenameRule ignore(String regex) {
        return new RenameRule(Pattern.compile(regex), m -> null, List.of());
    }

    /** This rule, with inner rules of which one must match the rest of the key after this rule's match. */
    RenameRule then(RenameRule... innerRules) {
        return new RenameRule(pattern, replacement, List.of(innerRules));
    }

    /** Thrown when no rule matches a key. */
    static final class NoRuleException extends Exception {
        NoRuleException(String remainder) {
            super(remainder);
        }
    }

    /**
     * Renames {@code key} by the first rule of {@code rules} that matches its start.
     *
     * @return the new key, or {@code null} when the key is ignored
     * @throws NoRuleException when no rule matches (its message is the part that matched nothing)
     */
    static String apply(List<RenameRule> rules, String key) throws NoRuleException {
        for (RenameRule rule : rules) {
            Matcher m = rule.pattern().matcher(key);
            if (!m.lookingAt()) {
                continue;
            }
            String head = rule.replacement().apply(m.toMatchResult());
            if (head == null) {
                return null;
            }
            String rest = key.substring(m.end());
            if (!rule.inner().isEmpty()) {
                rest = apply(rule.inner(), rest);
                if (rest == null) {
                    return null;
                }
            }
            return head + rest;
        }
        throw new NoRuleException(key);
    }

    private static String expand(String template, MatchResult m) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < template.length(); i++) {
            char c = template.charAt(i);
            if (c == '$' && i + 1 < template.length() && Character.isDigit(template.charAt(i + 1))) {
                out.append(m.group(template.charAt(++i) - '0'));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
