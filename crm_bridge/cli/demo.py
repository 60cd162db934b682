"""`demo`: placeholder replaced below."""
import click

@click.command()
def demo() -> None:
    """Run the demo."""
