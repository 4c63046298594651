package daguerre.server.styles;

import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A named prompt snippet and negative-prompt snippet, as a row of A1111's {@code styles.csv}.
 *
 * @param name what the style is picked by
 * @param prompt added to the prompt (see {@link #merge})
 * @param negativePrompt added to the negative prompt, by the same rule
 */
public record PromptStyle(String name, String prompt, String negativePrompt) {

    /** A1111's placeholder: a style text holding it wraps the user's text instead of being appended. */
    public static final String PLACEHOLDER = "{prompt}";

    /** A prompt and negative prompt, as typed or with styles applied. */
    public record Prompts(String prompt, String negativePrompt) {}

    /**
     * A1111's {@code merge_prompts}: a style text holding {@code {prompt}} has every placeholder replaced
     * by {@code text}; any other is appended to it with ", " (blank parts dropped, both stripped).
     */
    public static String merge(String styleText, String text) {
        if (styleText.contains(PLACEHOLDER)) {
            return styleText.replace(PLACEHOLDER, text);
        }
        return Stream.of(text.strip(), styleText.strip()).filter(part -> !part.isEmpty()).collect(Collectors.joining(", "));
    }

    /** {@code prompts} with {@code styles} applied one after another, in their order (as A1111's {@code apply_styles_to_prompt}). */
    public static Prompts applyAll(List<PromptStyle> styles, Prompts prompts) {
        String prompt = prompts.prompt();
        String negative = prompts.negativePrompt();
        for (PromptStyle style : styles) {
            prompt = merge(style.prompt(), prompt);
            negative = merge(style.negativePrompt(), negative);
        }
        return new Prompts(prompt, negative);
    }

    /** {@code text} with the styles' prompts applied (a hires-fix prompt). */
    public static String applyPrompts(List<PromptStyle> styles, String text) {
        return applyAll(styles, new Prompts(text, "")).prompt();
    }

    /** {@code text} with the styles' negative prompts applied (a hires-fix negative prompt). */
    public static String applyNegativePrompts(List<PromptStyle> styles, String text) {
        return applyAll(styles, new Prompts("", text)).negativePrompt();
    }
}
