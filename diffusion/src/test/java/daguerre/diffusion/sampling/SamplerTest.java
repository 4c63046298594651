package daguerre.diffusion.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.schedule.SchedulerConfig;
import org.junit.jupiter.api.Test;

class SamplerTest {

    @Test
    void everySamplerIsFoundByEitherNameIgnoringCase() {
        for (Sampler sampler : Sampler.values()) {
            assertSame(sampler, Sampler.fromName(sampler.apiName()));
            assertSame(sampler, Sampler.fromName(sampler.a1111Name()));
            assertSame(sampler, Sampler.fromName(sampler.apiName().toUpperCase()));
            assertSame(sampler, Sampler.fromName(" " + sampler.a1111Name().toLowerCase() + " "));
        }
        assertSame(Sampler.PNDM, Sampler.fromName("PLMS"));
        assertSame(Sampler.EULER_A, Sampler.fromName("Euler a"));
        assertSame(Sampler.DPMPP_2M_KARRAS, Sampler.fromName("DPM++ 2M Karras"));
    }

    @Test
    void unknownNamesListTheValidOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sampler.fromName("heun"));
        assertTrue(e.getMessage().contains("heun"), e.getMessage());
        for (Sampler sampler : Sampler.values()) {
            assertTrue(e.getMessage().contains(sampler.apiName()), e.getMessage());
            assertTrue(e.getMessage().contains(sampler.a1111Name()), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Sampler.fromName(null));
    }

    @Test
    void modelCallCountsFollowTheAlgorithm() {
        for (Sampler sampler : Sampler.values()) {
            int expected = sampler == Sampler.PNDM ? 21 : 20;
            assertEquals(expected, sampler.schedule(SchedulerConfig.SD15, 20).modelCalls(), sampler.apiName());
        }
    }

    @Test
    void planValidatesItsArguments() {
        SchedulerConfig config = SchedulerConfig.SD15;
        assertThrows(IllegalArgumentException.class, () -> SamplingPlan.of(Sampler.EULER, config, 0));
        assertThrows(IllegalArgumentException.class, () -> SamplingPlan.of(Sampler.EULER, config, 1001));
        assertThrows(IllegalArgumentException.class, () -> SamplingPlan.of(Sampler.EULER, config, 20).withEta(0.5));
        assertThrows(IllegalArgumentException.class, () -> SamplingPlan.of(Sampler.DDIM, config, 20).withEta(1.5));
        assertThrows(IllegalArgumentException.class, () -> SamplingPlan.of(Sampler.DDIM, config, 20).withStrength(0));
        assertThrows(IllegalArgumentException.class, () -> SamplingPlan.of(Sampler.DDIM, config, 20).withStrength(1.1));
        assertEquals(0.5, SamplingPlan.of(Sampler.DDIM, config, 20).withEta(0.5).eta());
    }
}
