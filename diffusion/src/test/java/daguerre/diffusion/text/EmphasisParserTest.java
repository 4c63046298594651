package daguerre.diffusion.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.text.EmphasisParser.WeightedText;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A1111's parse_prompt_attention behaviour, including its documented examples. */
class EmphasisParserTest {

    private static WeightedText w(String text, double weight) {
        return new WeightedText(text, weight);
    }

    @Test
    void a1111DocumentedExamples() {
        assertEquals(List.of(w("normal text", 1.0)), EmphasisParser.parse("normal text"));
        assertEquals(List.of(w("an ", 1.0), w("important", 1.1), w(" word", 1.0)), EmphasisParser.parse("an (important) word"));
        assertEquals(List.of(w("unbalanced", 1.1)), EmphasisParser.parse("(unbalanced"));
        assertEquals(List.of(w("(literal]", 1.0)), EmphasisParser.parse("\\(literal\\]"));
        assertEquals(List.of(w("unnecessaryparens", 1.1)), EmphasisParser.parse("(unnecessary)(parens)"));
        assertEquals(List.of(
                        w("a ", 1.0),
                        w("house", 1.5730000000000004),
                        w(" ", 1.1),
                        w("on", 1.0),
                        w(" a ", 1.1),
                        w("hill", 0.55),
                        w(", sun, ", 1.1),
                        w("sky", 1.4641000000000006),
                        w(".", 1.1)),
                EmphasisParser.parse("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky)))."));
    }

    @Test
    void squareBracketsDivideAndNestingMultiplies() {
        assertEquals(List.of(w("a ", 1.0), w("b", 1 / 1.1)), EmphasisParser.parse("a [b]"));
        assertEquals(List.of(w("b", 1 / 1.1 / 1.1)), EmphasisParser.parse("[[b]]"));
        assertEquals(List.of(w("a", 2.0 * 1.1), w("b", 1.1)), EmphasisParser.parse("((a:2)b)"));
        assertEquals(List.of(w(" a ", 0.5)), EmphasisParser.parse("( a : 0.5 )"));
        assertEquals(List.of(w("x", -0.5)), EmphasisParser.parse("(x:-0.5)"));
    }

    @Test
    void unbalancedAndStrayBracketsBehaveLikeA1111() {
        // stray closers and a weight without an open round bracket stay text
        assertEquals(List.of(w("a", 1.1 * 1.1), w(" b])", 1.0)), EmphasisParser.parse("((a)) b])"));
        assertEquals(List.of(w("a:1.2)", 1.0)), EmphasisParser.parse("a:1.2)"));
        // ":w" only closes round brackets: inside square brackets it is text
        assertEquals(List.of(w("a:1.5", 1 / 1.1)), EmphasisParser.parse("[a:1.5]"));
        // brackets left open apply to the end: all round ones first, then all square ones
        assertEquals(List.of(w("a ", 1.0), w("b ", 1 / 1.1), w("c", 1.1 * (1 / 1.1))), EmphasisParser.parse("a [b (c"));
    }

    @Test
    void escapesAndLoneBackslash() {
        assertEquals(List.of(w("(a) [b] \\", 1.0)), EmphasisParser.parse("\\(a\\) \\[b\\] \\\\"));
        assertEquals(List.of(w("a  b", 1.0)), EmphasisParser.parse("a \\ b"));
    }

    @Test
    void breakKeyword() {
        List<WeightedText> parsed = EmphasisParser.parse("a cat BREAK a dog");
        assertEquals(List.of(w("a cat", 1.0), WeightedText.BREAK, w("a dog", 1.0)), parsed);
        assertTrue(parsed.get(1).isBreak());
        assertEquals(List.of(w("", 1.0), WeightedText.BREAK, w("", 1.0)), EmphasisParser.parse("BREAK"));
        // only the standalone upper-case word
        assertEquals(List.of(w("BREAKING break", 1.0)), EmphasisParser.parse("BREAKING break"));
        // weighted inside brackets, it is no longer a break
        List<WeightedText> inside = EmphasisParser.parse("(a BREAK b)");
        assertEquals(List.of(w("a", 1.1), w("BREAK", -1.1), w("b", 1.1)), inside);
        assertFalse(inside.get(1).isBreak());
    }

    @Test
    void emptyPromptAndBadWeight() {
        assertEquals(List.of(w("", 1.0)), EmphasisParser.parse(""));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EmphasisParser.parse("(a:1.2.3)"));
        assertTrue(e.getMessage().contains("1.2.3"), e.getMessage());
    }
}
