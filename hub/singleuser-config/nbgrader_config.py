"""nbgrader settings for every student's server on the course hub (on JUPYTER_CONFIG_PATH there).

One exchange folder shared by instructor and students (nbgrader's "release", "fetch", "submit" and
"collect" go through it) and one course id. The hub passes both in COURSE_HUB_EXCHANGE and
COURSE_HUB_COURSE_ID; this file has no effect until nbgrader is installed in the course environment.
"""

import os

c = get_config()  # noqa: F821 -- provided by the Jupyter application that loads this file
c.Exchange.root = os.environ.get("COURSE_HUB_EXCHANGE", "/srv/nbgrader/exchange")
c.CourseDirectory.course_id = os.environ.get("COURSE_HUB_COURSE_ID", "lm-course")
