using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Language.Tests;

/// <summary>Layer rules, lets and extends.</summary>
public sealed class BinderRulesTests
{
    private static string Kinds(ModelPlan model) =>
        string.Concat(model.Layers.Select(l => l.Mixer switch { AttentionPlan => 'a', MambaPlan => 'm', BmojoPlan => 'b', _ => '?' }));

    private static string FeedForwards(ModelPlan model) =>
        string.Concat(model.Layers.Select(l => l.FeedForward switch { null => '-', MoePlan => 'e', MlpPlan => 'f', _ => '?' }));

    [Fact]
    public void Jamba_places_attention_at_offset_4_of_8_and_moe_on_odd_layers()
    {
        var (models, diagnostics) = TestSpecs.CompileRepositorySpecs();
        Assert.Empty(diagnostics);
        ModelPlan jamba = models.Single(m => m.Name == "Jamba");
        Assert.Equal("mmmmammmmmmmammm", Kinds(jamba));
        Assert.Equal("fefefefefefefefe", FeedForwards(jamba));
        Assert.Equal(new AttentionPlan(16, 8, null, 64, 10000, false), jamba.Layers[4].Mixer);
        Assert.Equal(new MoePlan(16, 2, new MlpPlan(2816, Activation.Silu, true, false), 0.01), jamba.Layers[1].FeedForward);

        ModelPlan tiny = models.Single(m => m.Name == "JambaTiny");
        Assert.Equal("mmam", Kinds(tiny));
        Assert.Equal("fefe", FeedForwards(tiny));
        Assert.Equal(new AttentionPlan(4, 2, null, 16, 10000, false), tiny.Layers[2].Mixer);
        Assert.Equal(4, ((MambaPlan)tiny.Layers[0].Mixer).DtRank);
    }

    [Fact]
    public void A_pattern_repeats_and_an_override_replaces_it()
    {
        ModelPlan model = TestSpecs.Model("""
            model A {
              vocab = 16, d_model = 32, layers = 8
              let ssm = mamba
              let attn = attention { heads = 4 }
              mixer pattern = [ssm, ssm, attn]
              mixer at [0] = bmojo { heads = 2, window = 4 }
              mlp pattern = [none, mlp]
            }
            """);
        Assert.Equal("bmammamm", Kinds(model));
        Assert.Equal("-f-f-f-f", FeedForwards(model));
    }

    [Fact]
    public void An_explicit_per_layer_list_is_a_pattern_of_length_layers()
    {
        ModelPlan model = TestSpecs.Model("model A {\n  vocab = 16, d_model = 32, layers = 3\n  mixer pattern = [attention { heads = 2 }, mamba, bmojo_f { heads = 1 }]\n}");
        Assert.Equal("amb", Kinds(model));
    }

    [Fact]
    public void Disjoint_override_rules_combine_and_none_removes_the_feed_forward()
    {
        ModelPlan model = TestSpecs.Model("""
            model A {
              vocab = 16, d_model = 32, layers = 8
              mixer = mamba
              mixer every 4 offset 2 = attention { heads = 4 }
              mixer at [0, 5] = bmojo { heads = 4, window = 8 }
              mlp = mlp
              mlp every 2 = none
            }
            """);
        Assert.Equal("bmammbam", Kinds(model));
        Assert.Equal("-f-f-f-f", FeedForwards(model));
    }

    [Fact]
    public void A_let_may_shadow_a_kind_and_refer_to_it()
    {
        ModelPlan model = TestSpecs.Model("model A {\n  vocab = 16, d_model = 32, layers = 1\n  mixer = mamba\n  let mamba = mamba { d_state = 8 }\n}");
        Assert.Equal(8, ((MambaPlan)model.Layers[0].Mixer).DState);
    }

    [Fact]
    public void A_let_used_with_arguments_overrides_its_keys()
    {
        ModelPlan model = TestSpecs.Model("model A {\n  vocab = 16, d_model = 32, layers = 2\n  let ssm = mamba { d_state = 16, expand = 2 }\n  mixer = ssm\n  mixer at [1] = ssm { d_state = 8 }\n}");
        Assert.Equal((16, 2), (((MambaPlan)model.Layers[0].Mixer).DState, ((MambaPlan)model.Layers[0].Mixer).Expand));
        Assert.Equal((8, 2), (((MambaPlan)model.Layers[1].Mixer).DState, ((MambaPlan)model.Layers[1].Mixer).Expand));
    }

    [Fact]
    public void Extends_across_files_inherits_keys_lets_and_rules()
    {
        var (models, diagnostics) = TestSpecs.CompileRepositorySpecs();
        Assert.Empty(diagnostics);
        ModelPlan tiny = models.Single(m => m.Name == "TransformerTiny");
        Assert.Equal("Transformer", tiny.Extends);
        Assert.Equal("specs/transformer-tiny.arch", tiny.SourcePath);
        Assert.Equal(new ModelSizes(64, 64, 2, NormKind.LayerNorm, 1e-5, true), tiny.Sizes);
        Assert.All(tiny.Layers, layer =>
        {
            Assert.Equal(new AttentionPlan(4, 4, null, 16, 10000, false), layer.Mixer);
            Assert.Equal(new MlpPlan(256, Activation.Gelu, false, false), layer.FeedForward);
        });
        Assert.StartsWith("The Transformer (transformer.arch) at test and MQAR size", tiny.Summary[0]);

        ModelPlan bmojoTiny = models.Single(m => m.Name == "BMojoTiny");
        var bmojo = Assert.IsType<BmojoPlan>(bmojoTiny.Layers[1].Mixer);
        Assert.Equal((8, 8, 8, 1.0), (bmojo.Window, bmojo.FadingTokens, bmojo.EideticCapacity, bmojo.Threshold));
        Assert.Equal(new AttentionPlan(4, 4, null, 16, 10000, false), bmojo.Attention);
        ModelPlan fadingTiny = models.Single(m => m.Name == "BMojoFTiny");
        Assert.Equal((16, 8, 0), (((BmojoPlan)fadingTiny.Layers[0].Mixer).Window, ((BmojoPlan)fadingTiny.Layers[0].Mixer).FadingTokens, ((BmojoPlan)fadingTiny.Layers[0].Mixer).EideticCapacity));
    }

    private const string Base = """
        model Base {
          vocab = 16, d_model = 32, layers = 4
          let attn = attention { heads = 4 }
          mixer = mamba
          mixer every 2 = attn
          mlp = mlp { hidden = 64 }
        }
        """;

    [Fact]
    public void A_child_rule_replaces_every_parent_rule_of_that_slot_only()
    {
        var (models, diagnostics) = TestSpecs.Compile(("base.arch", Base), ("child.arch", "model Child extends Base {\n  mixer = mamba\n}"));
        Assert.Empty(diagnostics);
        ModelPlan child = models.Single(m => m.Name == "Child");
        Assert.Equal("mmmm", Kinds(child));
        Assert.Equal("ffff", FeedForwards(child));
        Assert.Equal("amam", Kinds(models.Single(m => m.Name == "Base")));
    }

    [Fact]
    public void A_child_let_overrides_the_parent_let_in_inherited_rules()
    {
        var (models, diagnostics) = TestSpecs.Compile(("base.arch", Base), ("child.arch", "model Child extends Base {\n  let attn = attn { kv_heads = 2 }\n}"));
        Assert.Empty(diagnostics);
        ModelPlan child = models.Single(m => m.Name == "Child");
        Assert.Equal(new AttentionPlan(4, 2, null, 8, 10000, false), child.Layers[0].Mixer);
        Assert.Equal(new AttentionPlan(4, 4, null, 8, 10000, false), models.Single(m => m.Name == "Base").Layers[0].Mixer);
    }

    [Fact]
    public void A_problem_only_the_child_has_is_reported_at_the_inherited_token_naming_the_child()
    {
        var (models, diagnostics) = TestSpecs.Compile(("base.arch", Base), ("child.arch", "model Child extends Base {\n  d_model = 34\n}"));
        Diagnostic diagnostic = Assert.Single(diagnostics);
        Assert.Equal("base.arch(3,34): error BMJ0201: heads (4) must divide d_model (34) (in model 'Child')", diagnostic.ToString());
        Assert.Equal(new[] { "Base" }, models.Select(m => m.Name));
    }

    [Fact]
    public void A_parent_error_is_reported_once_and_fails_the_children_too()
    {
        var (models, diagnostics) = TestSpecs.Compile(("base.arch", Base.Replace("heads = 4", "heads = 5")), ("child.arch", "model Child extends Base {\n  layers = 2\n}"));
        Assert.Equal("base.arch(3,34): error BMJ0201: heads (5) must divide d_model (32)", Assert.Single(diagnostics).ToString());
        Assert.Empty(models);
    }

    [Fact]
    public void A_model_with_syntax_errors_is_left_out_without_cascading_errors()
    {
        var (models, diagnostics) = TestSpecs.Compile("model A {\n  vocab = \n  d_model = 64\n  layers = 2\n  mixer = mamba\n}\nmodel B {\n  vocab = 8, d_model = 8, layers = 1, mixer = mamba\n}");
        Assert.Equal("BMJ0007", Assert.Single(diagnostics).Id);
        Assert.Equal("B", Assert.Single(models).Name);
    }

    [Fact]
    public void Binding_twice_gives_equal_plans()
    {
        var first = TestSpecs.CompileRepositorySpecs().Models.ToEquatableArray();
        var second = TestSpecs.CompileRepositorySpecs().Models.ToEquatableArray();
        Assert.Equal(first, second);
        Assert.Equal(first.GetHashCode(), second.GetHashCode());
    }
}
