import pytest

from chromaseg.plugins.common.settings import Settings


def test_round_trip_through_strings() -> None:
    s = Settings(vibrancy=0.5, harmonize=True, segment_pass=False, daemon_command="/opt/bin/chromaseg serve --x 'a b'")
    stored = s.to_strings()
    assert stored["harmonize"] == "true" and stored["vibrancy"] == "0.5"
    assert Settings.from_strings(stored) == s
    assert s.command() == ["/opt/bin/chromaseg", "serve", "--x", "a b"]
    assert Settings().command() is None


def test_bad_stored_values_fall_back_to_defaults() -> None:
    s = Settings.from_strings({"vibrancy": "loud", "harmonize": "maybe", "max_segments": "999", "feather": "2.5",
                               "unknown": "x"})
    assert s == Settings(feather=2.5)


def test_the_models_vibrancy_is_stored_as_empty_and_read_back() -> None:
    assert Settings().vibrancy is None and Settings().to_strings()["vibrancy"] == ""
    assert Settings.from_strings(Settings().to_strings()) == Settings()
    assert Settings.from_strings({"vibrancy": "0.25"}) == Settings(vibrancy=0.25)


def test_the_colorizer_choice_is_a_name_stored_as_text_and_empty_means_the_shipped_model() -> None:
    assert Settings().colorizer is None and Settings().to_strings()["colorizer"] == ""
    assert Settings.from_strings({"colorizer": "ddcolor-tiny"}) == Settings(colorizer="ddcolor-tiny")
    assert Settings.from_strings({"colorizer": "../weights/x.pth"}) == Settings()  # never a path
    with pytest.raises(ValueError, match="colorizer"):
        Settings(colorizer="a b")


def test_ranges_are_checked() -> None:
    with pytest.raises(ValueError, match="vibrancy"):
        Settings(vibrancy=1.05)
    with pytest.raises(ValueError, match="max_segments"):
        Settings(max_segments=256)
