"""Reaching the estimator inside a composite one (a ``Pipeline``'s last step)."""

from sklearn.pipeline import Pipeline

__all__ = ["final_estimator"]


def final_estimator(estimator):
    """The last step of a ``Pipeline`` (imbalanced-learn's too), else ``estimator`` itself.

    For code that needs the fitted model at the end of a pipeline (its factors, its
    discriminator) rather than the pipeline's own methods.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.linear_model import LogisticRegression
    >>> type(final_estimator(make_pipeline(StandardScaler(), LogisticRegression()))).__name__
    'LogisticRegression'
    >>> type(final_estimator(LogisticRegression())).__name__
    'LogisticRegression'
    """
    # imblearn.pipeline.Pipeline subclasses sklearn's Pipeline.
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator
