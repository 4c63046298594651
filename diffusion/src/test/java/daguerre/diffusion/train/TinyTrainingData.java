package daguerre.diffusion.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * A tiny captioned image folder ({@code metadata.jsonl}, 16x16 PNGs: a coloured square on a
 * coloured background) and a matching tiny recipe, for end-to-end trainer tests.
 */
final class TinyTrainingData {

    static final String[] NAMES = {"red", "green", "blue", "white"};
    static final int[] COLOURS = {0xdc2828, 0x28aa46, 0x285adc, 0xffffff};
    static final int SIZE = 16;

    private TinyTrainingData() {}

    /** Writes 16 images (every object colour on every background colour) with captions into {@code folder}. */
    static Path writeFolder(Path folder) throws IOException {
        Files.createDirectories(folder);
        ObjectMapper json = new ObjectMapper();
        try (Writer metadata = Files.newBufferedWriter(folder.resolve("metadata.jsonl"), StandardCharsets.UTF_8)) {
            for (int object = 0; object < NAMES.length; object++) {
                for (int background = 0; background < NAMES.length; background++) {
                    BufferedImage image = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_INT_RGB);
                    for (int y = 0; y < SIZE; y++) {
                        for (int x = 0; x < SIZE; x++) {
                            boolean inside = x >= 4 && x < 12 && y >= 4 && y < 12;
                            image.setRGB(x, y, inside ? COLOURS[object] : COLOURS[background]);
                        }
                    }
                    String file = NAMES[object] + "-on-" + NAMES[background] + ".png";
                    ImageIO.write(image, "png", folder.resolve(file).toFile());
                    ObjectNode line = json.createObjectNode().put("file_name", file)
                            .put("text", NAMES[object] + " square, on a " + NAMES[background] + " background");
                    metadata.write(json.writeValueAsString(line) + "\n");
                }
            }
        }
        return folder;
    }

    /** A recipe over {@code images} with tiny networks and the given step counts, run and export under {@code root}. */
    static TrainConfig recipe(Path images, Path root, long vaeSteps, long diffusionSteps) throws IOException {
        String text = """
                {
                  "seed": 7,
                  "data": {"folder": "%s"},
                  "image_size": 16,
                  "run_dir": "run",
                  "export_dir": "model",
                  "checkpoint_minutes": 60,
                  "tokenizer": {"max_merges": 50},
                  "vae": {
                    "model": {"block_out_channels": [16, 32], "layers_per_block": 1, "latent_channels": 4,
                              "norm_num_groups": 8, "sample_size": 16},
                    "steps": %d, "batch_size": 4, "learning_rate": 0.002, "warmup_steps": 2,
                    "ema_decay": 0.9, "kl_weight": 0.0001, "edge_weight": 0.5
                  },
                  "text_encoder": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                                   "num_attention_heads": 2, "max_position_embeddings": 77},
                  "unet": {"sample_size": 8, "block_out_channels": [32, 32], "layers_per_block": 1,
                           "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
                           "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
                           "cross_attention_dim": 32, "attention_head_dim": [2, 2], "norm_num_groups": 8},
                  "diffusion": {"steps": %d, "batch_size": 4, "learning_rate": 0.001, "warmup_steps": 2,
                                "ema_decay": 0.9, "empty_caption_rate": 0.1}
                }
                """.formatted(escaped(images), vaeSteps, diffusionSteps);
        Files.createDirectories(root);
        Path file = root.resolve("recipe.json");
        Files.writeString(file, text, StandardCharsets.UTF_8);
        return TrainConfig.load(file);
    }

    /** A fine-tune of the diffusers folder {@code init} on {@code images}, run and export under {@code root}. */
    static TrainConfig fineTuneRecipe(Path images, Path init, Path root, long steps) throws IOException {
        String text = """
                {
                  "seed": 8,
                  "data": {"folder": "%s"},
                  "init": "%s",
                  "image_size": 16,
                  "run_dir": "run",
                  "export_dir": "model",
                  "checkpoint_minutes": 60,
                  "diffusion": {"steps": %d, "batch_size": 4, "learning_rate": 0.001, "warmup_steps": 2,
                                "ema_decay": 0.9, "empty_caption_rate": 0.1}
                }
                """.formatted(escaped(images), escaped(init), steps);
        Files.createDirectories(root);
        Path file = root.resolve("fine-tune.json");
        Files.writeString(file, text, StandardCharsets.UTF_8);
        return TrainConfig.load(file);
    }

    private static String escaped(Path path) {
        return path.toAbsolutePath().toString().replace("\\", "\\\\");
    }
}
