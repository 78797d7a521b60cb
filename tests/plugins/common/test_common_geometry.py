from common_fakes import box_mask

from chromaseg.plugins.common.geometry import Rect, context_margin, mask_bbox


def test_intersect_pad_offset() -> None:
    layer = Rect(0, 0, 100, 80)
    assert Rect(-10, -10, 30, 30).intersect(layer) == Rect(0, 0, 20, 20)
    assert Rect(200, 0, 5, 5).intersect(layer).empty
    assert Rect(10, 10, 20, 20).pad(15, layer) == Rect(0, 0, 45, 45)
    assert Rect(90, 70, 10, 10).pad(5, layer) == Rect(85, 65, 15, 15)
    assert Rect(30, 40, 5, 5).offset_in(Rect(10, 10, 50, 50)) == Rect(20, 30, 5, 5)
    assert Rect(0, 0, 3, 4).area == 12 and Rect(0, 0, -1, 4).area == 0


def test_context_margin_scales_with_the_selection_and_has_a_floor() -> None:
    assert context_margin(Rect(0, 0, 200, 100), 0.25, 16) == 50
    assert context_margin(Rect(0, 0, 20, 10), 0.25, 16) == 16


def test_mask_bbox_is_tight_and_in_the_rects_coordinates() -> None:
    mask = box_mask(40, 30, Rect(7, 5, 10, 12), 128)
    assert mask_bbox(mask, Rect(100, 200, 40, 30)) == Rect(107, 205, 10, 12)
    assert mask_bbox(bytes(40 * 30), Rect(0, 0, 40, 30)) is None
    lasso = bytearray(bytes(20 * 10))
    lasso[3 * 20 + 15] = 1
    lasso[8 * 20 + 2] = 255
    assert mask_bbox(bytes(lasso), Rect(0, 0, 20, 10)) == Rect(2, 3, 14, 6)
