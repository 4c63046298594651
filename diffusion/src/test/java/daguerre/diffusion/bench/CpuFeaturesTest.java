package daguerre.diffusion.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link CpuFeatures#parse} on /proc/cpuinfo texts of an AVX2-only CPU, an AVX-512 + BF16 + AMX CPU, an ARM CPU and none. */
class CpuFeaturesTest {

    /** Two processors of a 2-vCPU AMD EPYC (Zen 3) guest: AVX2 and FMA, no AVX-512. */
    private static final String AVX2_ONLY = """
            processor\t: 0
            vendor_id\t: AuthenticAMD
            cpu family\t: 25
            model\t\t: 1
            model name\t: AMD EPYC 7B13 64-Core Processor
            stepping\t: 1
            flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm sse4a bmi1 avx2 smep bmi2 erms invpcid rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves vaes vpclmulqdq rdpid fsrm
            bugs\t\t: sysret_ss_attrs spectre_v1 spectre_v2 spec_store_bypass
            power management:

            processor\t: 1
            vendor_id\t: AuthenticAMD
            model name\t: AMD EPYC 7B13 64-Core Processor
            flags\t\t: fpu avx512f avx512_bf16 amx_bf16
            """;

    /** An Intel Sapphire Rapids processor: AVX-512 with BF16 and FP16, AMX tiles, AVX-VNNI. */
    private static final String AVX512_BF16_AMX = """
            processor\t: 0
            vendor_id\t: GenuineIntel
            cpu family\t: 6
            model\t\t: 143
            model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
            flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology nonstop_tsc cpuid tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm 3dnowprefetch fsgsbase tsc_adjust bmi1 hle avx2 smep bmi2 erms invpcid rtm avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves avx_vnni avx512_bf16 arat avx512vbmi umip pku ospke waitpkg avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq la57 rdpid movdiri movdir64b fsrm md_clear serialize tsxldtrk amx_bf16 avx512_fp16 amx_tile amx_int8 arch_capabilities
            """;

    @Test
    void avx2OnlyCpuHasNoNativeBf16() {
        CpuFeatures cpu = CpuFeatures.parse(AVX2_ONLY);
        assertEquals("AMD EPYC 7B13 64-Core Processor", cpu.model());
        // only the first processor's block counts: the second one's (made-up) AVX-512 flags are not read
        assertEquals(List.of("avx2", "fma"), cpu.reported());
        assertEquals("avx2 fma", cpu.reportedText());
        assertTrue(cpu.hasAvx2Fma());
        assertFalse(cpu.hasAvx512());
        assertFalse(cpu.hasNativeBf16());
        assertFalse(cpu.hasNativeFp16());
        assertFalse(cpu.hasAmxBf16());
        assertTrue(cpu.has("sha_ni") && !cpu.has("avx512_bf16"));
        assertEquals("fpu", cpu.flags().iterator().next());  // the kernel's order is kept
    }

    @Test
    void sapphireRapidsHasEveryReportedFeature() {
        CpuFeatures cpu = CpuFeatures.parse(AVX512_BF16_AMX);
        assertEquals("Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", cpu.model());
        assertEquals(CpuFeatures.REPORTED, cpu.reported());
        assertEquals("avx2 fma avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_tile avx_vnni", cpu.reportedText());
        assertTrue(cpu.hasAvx512() && cpu.hasNativeBf16() && cpu.hasNativeFp16() && cpu.hasAmxBf16());
    }

    @Test
    void eitherBf16FeatureIsNativeBf16() {
        CpuFeatures avx512Bf16 = CpuFeatures.parse("model name\t: Zen 4\nflags\t\t: avx2 fma avx512f avx512_bf16\n");
        assertTrue(avx512Bf16.hasNativeBf16());
        assertFalse(avx512Bf16.hasAmxBf16());
        assertEquals(List.of("avx2", "fma", "avx512f", "avx512_bf16"), avx512Bf16.reported());
        CpuFeatures amxOnly = CpuFeatures.parse("flags\t: amx_bf16 amx_tile\n");
        assertTrue(amxOnly.hasNativeBf16() && amxOnly.hasAmxBf16());
        assertFalse(amxOnly.hasAvx2Fma());
        // a flag is a whole word: "avx512_bf16x" or "xavx2" are not the features
        CpuFeatures lookalikes = CpuFeatures.parse("flags\t: avx512_bf16x xavx2 fma3\n");
        assertEquals(List.of(), lookalikes.reported());
        assertFalse(lookalikes.hasNativeBf16());
    }

    @Test
    void armFeaturesLineAndNoFileAtAll() {
        CpuFeatures arm = CpuFeatures.parse("processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes bf16\nCPU implementer\t: 0x41\n");
        assertEquals("unknown", arm.model());
        assertTrue(arm.has("asimd") && arm.has("bf16"));
        assertEquals("none", arm.reportedText());
        assertFalse(arm.hasNativeBf16());  // only the x86 features count for now
        CpuFeatures none = CpuFeatures.parse("");
        assertEquals("unknown", none.model());
        assertTrue(none.flags().isEmpty());
        assertEquals("none", none.reportedText());
    }

    @Test
    void thisMachineReadsWithoutError() {
        CpuFeatures cpu = CpuFeatures.current();
        assertFalse(cpu.model().isBlank());
        if (System.getProperty("os.name").startsWith("Linux") && System.getProperty("os.arch").equals("amd64")) {
            assertFalse(cpu.flags().isEmpty(), "no flags read from /proc/cpuinfo");
        }
    }
}
